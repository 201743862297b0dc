import Foundation
import IMNCore

/// `GET /history`: aggregates of archived runs per time step and group, read from ClickHouse.
///
/// Parameters: `module` (required), `target`, `agent`, `country`, `asn`, `from` and `to`
/// (RFC 3339 or Unix seconds; the last 24 hours by default), `step` (`300`, `5m`, `1h`, `1d`;
/// by default the smallest of 1m, 5m, 15m, 1h, 6h, 1d giving at most 500 steps) and `group_by`
/// (`agent`, `country`, `asn`, `target`, `continent`, `city`, `network`; none by default).
/// Bounds: at most 400 days, 10,000 steps and 1,000 groups; ClickHouse stops the query after
/// 30 seconds.
public struct HistoryQuery: Sendable, Equatable {
    public enum Group: String, Sendable, CaseIterable {
        case agent, country, asn, target, continent, city, network
        var column: String { self == .agent ? "agent_id" : rawValue }
    }

    /// Bad parameters, each naming the one at fault.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var parameter: String
        public var reason: String
        public var description: String { "\(parameter): \(reason)" }
    }

    public var module: String
    public var filters: [(column: String, value: String)]
    public var from: Int64
    public var to: Int64
    public var step: Int64
    public var groupBy: Group?

    public static let maxDays: Int64 = 400
    public static let maxSteps: Int64 = 10_000
    public static let maxGroups = 1_000

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.module == rhs.module && lhs.filters.map(\.column) == rhs.filters.map(\.column) && lhs.filters.map(\.value) == rhs.filters.map(\.value)
            && lhs.from == rhs.from && lhs.to == rhs.to && lhs.step == rhs.step && lhs.groupBy == rhs.groupBy
    }

    /// Reads and checks the query string; `now` in Unix seconds.
    public init(_ query: [String: String], now: Int64) throws(Invalid) {
        let known: Set<String> = ["module", "target", "agent", "country", "asn", "from", "to", "step", "group_by"]
        if let unknown = query.keys.filter({ !known.contains($0) }).sorted().first {
            throw Invalid(parameter: unknown, reason: "unknown parameter; known: \(known.sorted().joined(separator: ", "))")
        }
        guard let module = query["module"], !module.isEmpty else {
            throw Invalid(parameter: "module", reason: "required: the module whose runs to aggregate, e.g. ping_module")
        }
        self.module = module
        var filters: [(String, String)] = []
        for (parameter, column) in [("target", "target"), ("agent", "agent_id"), ("country", "country")] {
            guard let value = query[parameter], !value.isEmpty else { continue }
            filters.append((column, parameter == "country" ? value.uppercased() : value))
        }
        if let text = query["asn"], !text.isEmpty {
            guard let asn = UInt32(text), asn > 0 else { throw Invalid(parameter: "asn", reason: "\(text) is not an AS number (1–4294967295)") }
            filters.append(("asn", String(asn)))
        }
        self.filters = filters
        to = try query["to"].map { (text) throws(Invalid) in try Self.time(text, "to") } ?? now
        from = try query["from"].map { (text) throws(Invalid) in try Self.time(text, "from") } ?? max(0, to - 86_400)
        guard from < to else { throw Invalid(parameter: "from", reason: "must be before to") }
        guard to - from <= Self.maxDays * 86_400 else {
            throw Invalid(parameter: "from", reason: "the range may span at most \(Self.maxDays) days")
        }
        if let text = query["step"], !text.isEmpty {
            guard let step = Self.seconds(text), step > 0, step <= Self.maxDays * 86_400 else {
                throw Invalid(
                    parameter: "step", reason: "\(text) is not a step: seconds or a number with s, m, h or d (5m, 1h), at most \(Self.maxDays) days")
            }
            self.step = step
        } else {
            let range = to - from
            step = [60, 300, 900, 3600, 21_600, 86_400].first { range / $0 <= 500 } ?? 86_400 * ((range / 86_400 + 499) / 500)
        }
        guard (to - from + step - 1) / step <= Self.maxSteps else {
            throw Invalid(parameter: "step", reason: "\((to - from) / step) steps: at most \(Self.maxSteps); make the step longer")
        }
        if let text = query["group_by"], !text.isEmpty {
            guard let group = Group(rawValue: text) else {
                throw Invalid(parameter: "group_by", reason: "one of \(Group.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            groupBy = group
        }
    }

    /// Unix seconds within what ClickHouse's `DateTime` holds (1970 to 2106).
    static func time(_ text: String, _ parameter: String) throws(Invalid) -> Int64 {
        let range: ClosedRange<Int64> = 0...4_294_967_295
        if let seconds = Int64(text) {
            guard range.contains(seconds) else { throw Invalid(parameter: parameter, reason: "\(text) is outside 1970–2106") }
            return seconds
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = formatter.date(from: text) ?? fractional.date(from: text) else {
            throw Invalid(parameter: parameter, reason: "\(text) is not a time: RFC 3339 (2026-12-01T00:00:00Z) or Unix seconds")
        }
        let seconds = Int64(date.timeIntervalSince1970)
        guard range.contains(seconds) else { throw Invalid(parameter: parameter, reason: "\(text) is outside 1970–2106") }
        return seconds
    }

    static func seconds(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        guard let unit = text.last.flatMap({ units[$0] }) else { return Int64(text) }
        guard let count = Int64(text.dropLast()) else { return nil }
        let (seconds, overflow) = count.multipliedReportingOverflow(by: unit)
        return overflow ? nil : seconds
    }

    /// The SQL, with every value a quoted literal.
    public var sql: String {
        let group = groupBy.map { "toString(\($0.column))" } ?? "''"
        var conditions = [
            "module = \(ClickHouseClient.literal(module))", "time >= toDateTime(\(from))", "time < toDateTime(\(to))",
        ]
        conditions += filters.map { $0.column == "asn" ? "asn = \($0.value)" : "\($0.column) = \(ClickHouseClient.literal($0.value))" }
        return """
            SELECT intDiv(toUInt32(time), \(step)) * \(step) AS bucket, \(group) AS grp,
            count() AS runs, countIf(state != 'completed') AS failed, sum(sent) AS sent, sum(received) AS received,
            sum(length(rtts)) AS samples,
            if(samples > 0, minArray(rtts), 0) AS rtt_min, if(samples > 0, avgArray(rtts), 0) AS rtt_avg,
            if(samples > 0, quantilesExactArray(0.5, 0.95)(rtts), [0., 0.]) AS rtt_q, if(samples > 0, maxArray(rtts), 0) AS rtt_max
            FROM \(ArchiveSchema.table) WHERE \(conditions.joined(separator: " AND "))
            GROUP BY bucket, grp ORDER BY grp, bucket FORMAT JSONEachRow
            """
    }

    /// ClickHouse settings that bound the query's work.
    public static let settings = ["max_execution_time": "30", "max_result_rows": "1000000", "result_overflow_mode": "throw"]

    /// The answer: one series per group, a point per step that had runs.
    public func answer(_ rows: [[String: JSONValue]]) throws(Invalid) -> JSONValue {
        // One formatter for every point: making one costs more than formatting thousands of times.
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let iso = { (seconds: Int64) in formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))) }
        var series: [(group: String, points: [JSONValue])] = []
        for row in rows {
            let group = row["grp"]?.stringValue ?? ""
            if series.last?.group != group {
                guard series.count < Self.maxGroups else {
                    throw Invalid(parameter: "group_by", reason: "more than \(Self.maxGroups) groups; narrow the filters")
                }
                series.append((group, []))
            }
            let number = { (key: String) in row[key]?.numberValue ?? 0 }
            let sent = number("sent")
            let quantiles = row["rtt_q"]?.arrayValue?.compactMap(\.numberValue) ?? []
            var point: [String: JSONValue] = [
                "time": .string(iso(Int64(number("bucket")))), "runs": .number(number("runs")), "failed": .number(number("failed")),
                "sent": .number(sent), "received": .number(number("received")), "samples": .number(number("samples")),
                "loss": sent > 0 ? .number(1 - number("received") / sent) : .null, "rtt_ms": .null,
            ]
            if number("samples") > 0, quantiles.count == 2 {
                point["rtt_ms"] = [
                    "min": .number(number("rtt_min")), "avg": .number(number("rtt_avg")), "p50": .number(quantiles[0]),
                    "p95": .number(quantiles[1]), "max": .number(number("rtt_max")),
                ]
            }
            series[series.count - 1].points.append(.object(point))
        }
        var body: [String: JSONValue] = [
            "module": .string(module), "from": .string(iso(from)), "to": .string(iso(to)), "step_seconds": .number(Double(step)),
            "group_by": groupBy.map { .string($0.rawValue) } ?? .null,
            "filters": .object(
                Dictionary(uniqueKeysWithValues: filters.map { ($0.column == "agent_id" ? "agent" : $0.column, JSONValue.string($0.value)) })),
            "series": .array(series.map { ["group": groupBy == nil ? .null : .string($0.group), "points": .array($0.points)] }),
        ]
        body["source"] = "clickhouse"
        return .object(body)
    }
}
