import IMNCore

/// The figures of a measurement's runs taken together. For probes that report round trips (ping
/// and tcping: `sent`, `received` or `connected`, `min_ms`/`avg_ms`/`max_ms`), each run gets its
/// min/avg/max/loss and the whole its min, median of the runs' averages, max and loss over all
/// probes; `http` runs are counted by status with their total times, `dns` runs by rcode with
/// their query times, `traceroute` and `mtr` runs by whether they reached the target with their
/// hop counts; every module gets counts by state. `group(by:)` gives the same per country, ASN
/// or tag.
struct MeasurementSummary: Sendable {
    struct Run: Sendable {
        var agentID: String
        var location: AgentLocation?
        /// A run state, or `offline`.
        var state: String
        var output: JSONValue?
    }

    enum Grouping: String, CaseIterable, Sendable {
        case country, asn, tag, continent, network
    }

    /// A round-trip probe's figures of one run, nil when its output has none.
    struct Figures: Sendable {
        var sent: Double
        var received: Double
        var min: Double?
        var avg: Double?
        var max: Double?

        init?(_ output: JSONValue?) {
            guard let output, let sent = output["sent"]?.numberValue, sent > 0,
                let received = output["received"]?.numberValue ?? output["connected"]?.numberValue
            else { return nil }
            self.sent = sent
            self.received = received
            min = output["min_ms"]?.numberValue
            avg = output["avg_ms"]?.numberValue
            max = output["max_ms"]?.numberValue
        }

        var json: JSONValue {
            [
                "min_ms": min.map(JSONValue.number) ?? .null, "avg_ms": avg.map(JSONValue.number) ?? .null,
                "max_ms": max.map(JSONValue.number) ?? .null, "loss": .number(Self.rounded((sent - received) / sent)),
            ]
        }

        static func rounded(_ value: Double) -> Double { (value * 10_000).rounded() / 10_000 }
    }

    static func summarize(_ runs: [Run]) -> JSONValue {
        var counts: [String: JSONValue] = ["runs": .number(Double(runs.count))]
        for state in ModuleStateName.allCases.map(\.rawValue) + ["offline"] {
            counts[state] = .number(Double(runs.filter { $0.state == state }.count))
        }
        let outputs = runs.compactMap(\.output)
        if let http = tally(outputs, key: { $0["status"]?.numberValue.map { String(Int($0)) } }, time: { $0["timings_ms"]?["total"]?.numberValue }) {
            counts["http"] = ["statuses": http.keys, "total_ms": http.times]
        }
        if let dns = tally(outputs, key: { $0["query_time_ms"] != nil ? $0["rcode"]?.stringValue : nil }, time: { $0["query_time_ms"]?.numberValue })
        {
            counts["dns"] = ["rcodes": dns.keys, "query_time_ms": dns.times]
        }
        if let paths = tally(
            outputs, key: { $0["hop_count"] != nil ? ($0["reached"]?.boolValue == true ? "reached" : "not_reached") : nil },
            time: {
                $0["hop_count"]?.numberValue
            })
        {
            counts["path"] = ["outcomes": paths.keys, "hops": paths.times]
        }
        let figures = runs.compactMap { Figures($0.output) }
        guard !figures.isEmpty else { return .object(counts) }
        let sent = figures.map(\.sent).reduce(0, +)
        let received = figures.map(\.received).reduce(0, +)
        let averages = figures.compactMap(\.avg).sorted()
        counts["rtt"] = [
            "min_ms": figures.compactMap(\.min).min().map(JSONValue.number) ?? .null,
            "median_ms": median(averages).map(JSONValue.number) ?? .null,
            "max_ms": figures.compactMap(\.max).max().map(JSONValue.number) ?? .null,
            "loss": .number(Figures.rounded((sent - received) / sent)), "sent": .number(sent), "received": .number(received),
        ]
        return .object(counts)
    }

    /// Outputs counted by `key` (those without one are left out) with min/median/max of `time`.
    static func tally(_ outputs: [JSONValue], key: (JSONValue) -> String?, time: (JSONValue) -> Double?) -> (keys: JSONValue, times: JSONValue)? {
        var keys: [String: JSONValue] = [:]
        var times: [Double] = []
        for output in outputs {
            guard let name = key(output) else { continue }
            keys[name] = .number((keys[name]?.numberValue ?? 0) + 1)
            if let value = time(output) { times.append(value) }
        }
        guard !keys.isEmpty else { return nil }
        times.sort()
        let figures: JSONValue = [
            "min": times.first.map(JSONValue.number) ?? .null, "median": median(times).map(JSONValue.number) ?? .null,
            "max": times.last.map(JSONValue.number) ?? .null,
        ]
        return (.object(keys), figures)
    }

    static func median(_ sorted: [Double]) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The summary per group, groups sorted by key; runs whose agent has no such field fall in
    /// `unknown`, and with `tag` a run counts in each of its agent's tags.
    static func group(_ runs: [Run], by grouping: Grouping) -> JSONValue {
        var groups: [String: [Run]] = [:]
        for run in runs {
            let location = run.location ?? AgentLocation()
            let keys: [String]
            switch grouping {
            case .country: keys = [location.country ?? "unknown"]
            case .continent: keys = [location.continent ?? "unknown"]
            case .asn: keys = [location.asn.map { String($0) } ?? "unknown"]
            case .network: keys = [location.network ?? "unknown"]
            case .tag: keys = location.tags.isEmpty ? ["unknown"] : location.tags
            }
            for key in keys { groups[key, default: []].append(run) }
        }
        return .array(
            groups.keys.sorted().map { key in
                var summary = summarize(groups[key] ?? []).objectValue ?? [:]
                summary[grouping.rawValue] = .string(key)
                return .object(summary)
            })
    }
}
