import Archive
import IMNCore

// GET /history in the OpenAPI document: aggregates from the ClickHouse archive (`HistoryQuery`).
extension OpenAPIDocument {
    static var historyPaths: [String: JSONValue] {
        let rtt = object(["min": number, "avg": number, "p50": number, "p95": number, "max": number])
        let point = object(
            [
                "time": ["type": "string", "format": "date-time"], "runs": integer, "failed": integer, "sent": integer, "received": integer,
                "samples": integer, "loss": ["type": ["number", "null"]], "rtt_ms": ["oneOf": [rtt, ["type": "null"]]],
            ], required: ["time", "runs", "failed", "sent", "received", "samples", "loss", "rtt_ms"])
        let series = object(["group": nullableString, "points": array(point)], required: ["group", "points"])
        var errors = ["422": problem("a parameter is invalid, or the range × steps × groups is over the bounds")]
        errors["501"] = problem("the archive is off: start imn server with --clickhouse-url")
        errors["503"] = problem("ClickHouse did not answer")
        errors["504"] = problem("ClickHouse stopped the query after 30 s")
        return [
            "/history": [
                "get": operation(
                    "history",
                    "Aggregates of archived runs per time step and group (count, loss, RTT min/avg/p50/p95/max), from the ClickHouse archive",
                    parameters: [
                        ["name": "module", "in": "query", "required": true, "description": "The module whose runs to aggregate", "schema": string],
                        query("target", "Only runs against this target (the output's host, url or name)", string),
                        query("agent", "Only this agent's runs", string),
                        query("country", "Only runs from agents in this country (ISO 3166-1 alpha-2)", string),
                        query("asn", "Only runs from agents in this AS", ["type": "integer", "minimum": 1, "maximum": 4_294_967_295]),
                        query("from", "Start: RFC 3339 or Unix seconds (default: 24 hours before to)", string),
                        query("to", "End: RFC 3339 or Unix seconds (default: now)", string),
                        query("step", "Step: seconds or a number with s, m, h, d (default: at most 500 steps)", string),
                        query(
                            "group_by", "One series per agent, country, asn, target, continent, city or network",
                            ["enum": .array(HistoryQuery.Group.allCases.map { .string($0.rawValue) })]),
                    ],
                    ok: object(
                        [
                            "module": string, "from": string, "to": string, "step_seconds": integer, "group_by": nullableString,
                            "filters": object([:]), "series": array(series), "source": string,
                        ], required: ["module", "from", "to", "step_seconds", "series"]),
                    errors: errors)
            ]
        ]
    }
}
