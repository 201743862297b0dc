import Foundation
import IMNCore

/// A measurement (`GET /measurements/{id}`) as people read it: one line about the whole, a table
/// with a row per run — its agent, where that agent is, the state and the figures that matter for
/// the module — then the summary, and for traceroute and mtr each run's path.
public enum MeasurementView {
    public static func render(_ measurement: JSONValue, style: OutputStyle) -> String {
        let module = measurement["module"]?.stringValue ?? "?"
        let runs = measurement["runs"]?.arrayValue ?? []
        let columns = figureColumns(module)
        var table = Table(header: ["AGENT", "LOCATION", "STATE"] + columns)
        for run in runs {
            let state = run["state"]?.stringValue ?? "?"
            var row = [Table.Cell(run["agent_id"]?.stringValue ?? "?"), Table.Cell(place(run["location"])), Table.Cell(state, colour: colour(state))]
            if let error = run["error"]?.stringValue, !error.isEmpty {
                row.append(Table.Cell(error, colour: .red))
            } else if state == "completed" {
                row += figures(module, run)
            }
            table.add(row)
        }
        var lines = [headline(measurement), table.render(colour: style.colour)]
        if let summary = summaryLine(measurement["summary"]) { lines.append(summary) }
        if module == "traceroute" || module == "mtr" {
            for run in runs where run["state"]?.stringValue == "completed" {
                lines.append("")
                lines.append(path(module, run, style: style))
            }
        }
        return lines.joined(separator: "\n")
    }

    static func headline(_ measurement: JSONValue) -> String {
        let id = measurement["id"]?.stringValue ?? "?"
        let module = measurement["module"]?.stringValue ?? "?"
        let status = measurement["status"]?.stringValue ?? "?"
        let target = ["host", "url", "name", "message"].lazy.compactMap { measurement["input"]?[$0]?.stringValue }.first
        return "\(module)\(target.map { " \($0)" } ?? "") — \(id), \(status)"
    }

    /// "Berlin, DE, AS3320" from an agent's location.
    public static func place(_ location: JSONValue?) -> String {
        guard let location else { return "-" }
        var parts: [String] = []
        if let city = location["city"]?.stringValue { parts.append(city) }
        if let country = location["country"]?.stringValue { parts.append(country) }
        if let asn = location["asn"]?.numberValue { parts.append("AS\(Int64(asn))") }
        return parts.isEmpty ? "-" : parts.joined(separator: ", ")
    }

    static func colour(_ state: String) -> Table.Colour? {
        switch state {
        case "completed": .green
        case "error", "failed", "offline": .red
        default: .yellow
        }
    }

    static func figureColumns(_ module: String) -> [String] {
        switch module {
        case "ping_module", "tcping": ["MIN ms", "AVG ms", "MAX ms", "LOSS"]
        case "traceroute", "mtr": ["HOPS", "REACHED", "LAST HOP"]
        case "dns": ["RCODE", "ANSWERS", "TIME ms", "FIRST ANSWER"]
        case "http": ["STATUS", "TOTAL ms", "FIRST BYTE ms", "SIZE", "HTTP"]
        case "echo_module": ["MESSAGE"]
        default: ["RESULT"]
        }
    }

    static func figures(_ module: String, _ run: JSONValue) -> [Table.Cell] {
        let result = run["result"]
        switch module {
        case "ping_module", "tcping":
            let stats = run["stats"]
            return [
                number(stats?["min_ms"]), number(stats?["avg_ms"]), number(stats?["max_ms"]),
                Table.Cell(percent(stats?["loss"]?.numberValue), right: true),
            ]
        case "traceroute", "mtr":
            let hops = result?["hops"]?.arrayValue ?? []
            let last = hops.last?["addresses"]?[0]?.stringValue ?? "*"
            return [
                number(result?["hop_count"], decimals: 0), Table.Cell(result?["reached"]?.boolValue == true ? "yes" : "no"), Table.Cell(last),
            ]
        case "dns":
            let answers = result?["answers"]?.arrayValue ?? []
            let first = answers.first.map { "\($0["type"]?.stringValue ?? "") \($0["data"]?.stringValue ?? "")" } ?? "-"
            return [
                Table.Cell(result?["rcode"]?.stringValue ?? "?"), Table.Cell("\(answers.count)", right: true),
                number(result?["query_time_ms"]), Table.Cell(first),
            ]
        case "http":
            return [
                number(result?["status"], decimals: 0), number(result?["timings_ms"]?["total"]),
                number(result?["timings_ms"]?["first_byte"]), number(result?["body_size"], decimals: 0),
                Table.Cell(result?["http_version"]?.stringValue ?? "?"),
            ]
        case "echo_module":
            return [Table.Cell(result?["message"]?.stringValue ?? "")]
        default:
            let text = result?.text ?? "null"
            return [Table.Cell(text.count > 80 ? String(text.prefix(79)) + "…" : text)]
        }
    }

    static func number(_ value: JSONValue?, decimals: Int = 3) -> Table.Cell {
        guard let number = value?.numberValue else { return Table.Cell("-", right: true) }
        return Table.Cell(String(format: "%.\(decimals)f", number), right: true)
    }

    static func percent(_ fraction: Double?) -> String {
        guard let fraction else { return "-" }
        return String(format: "%.1f%%", fraction * 100)
    }

    /// "3 runs: 2 completed, 1 error; RTT min 0.014 ms, median 0.033, max 0.091, loss 0.0%".
    static func summaryLine(_ summary: JSONValue?) -> String? {
        guard let summary, let runs = summary["runs"]?.numberValue else { return nil }
        let states = ["completed", "error", "failed", "offline", "running", "started", "created"].compactMap { state -> String? in
            guard let count = summary[state]?.numberValue, count > 0 else { return nil }
            return "\(Int(count)) \(state)"
        }
        var line = "\(Int(runs)) run\(runs == 1 ? "" : "s"): \(states.joined(separator: ", "))"
        if let rtt = summary["rtt"], let min = rtt["min_ms"]?.numberValue, let median = rtt["median_ms"]?.numberValue,
            let max = rtt["max_ms"]?.numberValue
        {
            line += String(format: "; RTT min %.3f ms, median %.3f, max %.3f, loss ", min, median, max) + percent(rtt["loss"]?.numberValue)
        }
        if let hops = summary["path"]?["hops"], let median = hops["median"]?.numberValue {
            line += String(format: "; hops median %.0f", median)
        }
        if let total = summary["http"]?["total_ms"], let median = total["median"]?.numberValue {
            line += String(format: "; total median %.3f ms", median)
        }
        return line
    }

    /// One run's path: `mtr --report`'s columns for mtr, each probe's RTT for traceroute.
    static func path(_ module: String, _ run: JSONValue, style: OutputStyle) -> String {
        let agent = run["agent_id"]?.stringValue ?? "?"
        let hops = run["result"]?["hops"]?.arrayValue ?? []
        if module == "mtr" {
            var table = Table(header: ["HOP", "HOST", "LOSS%", "SNT", "LAST", "AVG", "BEST", "WRST", "STDEV"])
            for hop in hops {
                table.add([
                    number(hop["ttl"], decimals: 0), Table.Cell(hop["addresses"]?[0]?.stringValue ?? "???"),
                    number(hop["loss_percent"], decimals: 1), number(hop["sent"], decimals: 0), number(hop["last_ms"]),
                    number(hop["avg_ms"]), number(hop["best_ms"]), number(hop["worst_ms"]), number(hop["stdev_ms"]),
                ])
            }
            return "path from \(agent):\n" + table.render(colour: style.colour)
        }
        var table = Table(header: ["HOP", "ADDRESS", "RTT ms"])
        for hop in hops {
            let probes = hop["probes"]?.arrayValue ?? []
            let rtts = probes.map { probe in probe["rtt_ms"]?.numberValue.map { String(format: "%.3f", $0) } ?? "*" }
            let addresses = (hop["addresses"]?.arrayValue ?? []).compactMap(\.stringValue)
            table.add([
                number(hop["ttl"], decimals: 0), Table.Cell(addresses.isEmpty ? "*" : addresses.joined(separator: " ")),
                Table.Cell(rtts.joined(separator: "  ")),
            ])
        }
        return "path from \(agent):\n" + table.render(colour: style.colour)
    }

    /// The exit status a finished measurement deserves.
    public static func exitStatus(_ measurement: JSONValue) -> ClientExitStatus {
        let runs = measurement["runs"]?.arrayValue ?? []
        if runs.contains(where: { !["completed", "error", "failed", "offline"].contains($0["state"]?.stringValue ?? "") }) { return .timedOut }
        return runs.allSatisfy { $0["state"]?.stringValue == "completed" } ? .ok : .runsFailed
    }
}
