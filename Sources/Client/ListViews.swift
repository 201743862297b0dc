import Foundation
import IMNCore

/// `GET /agents`, `GET /measurements`, `GET /schedules` and the live stream, as tables and lines.
public enum ListViews {
    public static func agents(_ list: JSONValue, style: OutputStyle) -> String {
        let agents = list.arrayValue ?? list["agents"]?.arrayValue ?? []
        guard !agents.isEmpty else { return "no agents match" }
        var table = Table(header: ["AGENT", "ALIVE", "LOCATION", "NETWORK", "TAGS", "MODULES", "LAST HEARD"])
        for agent in agents {
            let alive = agent["alive"]?.boolValue == true
            let modules = (agent["modules"]?.arrayValue ?? []).filter { $0["enabled"]?.boolValue != false }.compactMap { $0["name"]?.stringValue }
            let tags = (agent["location"]?["tags"]?.arrayValue ?? []).compactMap(\.stringValue)
            let heard = agent["seconds_since_heartbeat"]?.numberValue.map { String(format: "%.0f s ago", $0) } ?? "-"
            table.add([
                Table.Cell(agent["agent_id"]?.stringValue ?? "?"), Table.Cell(alive ? "yes" : "no", colour: alive ? .green : .red),
                Table.Cell(MeasurementView.place(agent["location"])), Table.Cell(agent["location"]?["network"]?.stringValue ?? "-"),
                Table.Cell(tags.isEmpty ? "-" : tags.joined(separator: ",")), Table.Cell("\(modules.count)", right: true),
                Table.Cell(heard),
            ])
        }
        return table.render(colour: style.colour)
    }

    public static func measurements(_ page: JSONValue, style: OutputStyle) -> String {
        let items = page["measurements"]?.arrayValue ?? []
        guard !items.isEmpty else { return "no measurements" }
        var table = Table(header: ["MEASUREMENT", "MODULE", "RUNS", "CREATED"])
        for item in items {
            table.add([
                Table.Cell(item["id"]?.stringValue ?? "?"), Table.Cell(item["module"]?.stringValue ?? "?"),
                MeasurementView.number(item["runs"], decimals: 0), Table.Cell(item["created_at"]?.stringValue ?? "-"),
            ])
        }
        var text = table.render(colour: style.colour)
        if let cursor = page["next_cursor"]?.stringValue { text += "\nmore: --cursor \(cursor)" }
        return text
    }

    public static func schedules(_ page: JSONValue, style: OutputStyle) -> String {
        let items = page["schedules"]?.arrayValue ?? page.arrayValue ?? []
        guard !items.isEmpty else { return "no schedules" }
        var table = Table(header: ["SCHEDULE", "MODULE", "EVERY", "WHO", "STATE", "RUNS", "NEXT"])
        for item in items {
            let every = item["cron"]?.stringValue ?? item["interval_seconds"]?.numberValue.map { String(format: "%g s", $0) } ?? "-"
            var who = (item["agents"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ",")
            if let locations = item["selection"]?["locations"]?.arrayValue {
                who = "\(locations.count) location\(locations.count == 1 ? "" : "s")"
            }
            let state = item["state"]?.stringValue ?? "?"
            table.add([
                Table.Cell(item["id"]?.stringValue ?? "?"), Table.Cell(item["module"]?.stringValue ?? "?"), Table.Cell(every),
                Table.Cell(who.isEmpty ? "-" : who), Table.Cell(state, colour: state == "active" ? .green : .yellow),
                MeasurementView.number(item["runs"], decimals: 0), Table.Cell(item["next_run_at"]?.stringValue ?? "-"),
            ])
        }
        var text = table.render(colour: style.colour)
        if let cursor = page["next_cursor"]?.stringValue { text += "\nmore: --cursor \(cursor)" }
        return text
    }

    /// One line per live event: time, kind, agent, module, state, and the output in short.
    public static func event(_ event: JSONValue, style: OutputStyle) -> String {
        let kind = event["kind"]?.stringValue ?? "?"
        let time = event["at_ms"]?.numberValue.map { clock($0) } ?? "--:--:--.---"
        switch kind {
        case "state", "result":
            let state = event["state"]?.stringValue ?? "?"
            let paint = MeasurementView.colour(state).flatMap { style.colour ? $0 : nil }
            let stateText = paint.map { "\u{1B}[\($0.rawValue)m\(state)\u{1B}[0m" } ?? state
            var line = "\(time)  \(kind)  \(event["agent_id"]?.stringValue ?? "?")  \(event["module"]?.stringValue ?? "?")  \(stateText)"
            line += "  \(event["id"]?.stringValue ?? "")"
            if let error = event["error"]?.stringValue { line += "  error: \(error)" }
            if let output = event["output"], output != .null {
                let text = output.text
                line += "  " + (text.count > 100 ? String(text.prefix(99)) + "…" : text)
            }
            return line
        case "heartbeats":
            return "\(time)  heartbeats  \(Int(event["count"]?.numberValue ?? 0)) agents"
        default:
            let text = event.text
            return "\(time)  \(kind)  " + (text.count > 120 ? String(text.prefix(119)) + "…" : text)
        }
    }

    static func clock(_ milliseconds: Double) -> String {
        let date = Date(timeIntervalSince1970: milliseconds / 1000)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone.current
        let parts = calendar.dateComponents([.hour, .minute, .second, .nanosecond], from: date)
        return String(format: "%02d:%02d:%02d.%03d", parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0, (parts.nanosecond ?? 0) / 1_000_000)
    }
}
