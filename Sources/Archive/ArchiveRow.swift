import IMNCore

/// One terminal run as the archive stores it: where the agent is, the module's figures as typed
/// columns (RTT samples, packets, hops, HTTP phases) and the raw output as JSON.
///
/// The figures by module: `ping_module` its packets' RTTs, `tcping` its connect times,
/// `dns` the query time, `http` the total time and each phase, `traceroute`/`mtr` the hop
/// count and whether the target answered (and for `mtr` the last hop's probes sent and answered). The target is the
/// output's `host`, `url` or `name`; a run that ended without output has only its error.
public struct ArchiveRow: Sendable, Equatable {
    public var requestID: String
    public var agentID: String
    public var module: String
    public var moduleVersion: String
    public var state: String
    public var target = ""
    public var address = ""
    public var timeMilliseconds: Int64
    public var durationMilliseconds: Double?
    public var location: AgentLocation
    public var sent = 0
    public var received = 0
    public var rtts: [Double] = []
    public var hops = 0
    public var reached = false
    public var httpStatus = 0
    public var phases: [String: Double] = [:]
    public var error: String
    /// The module's output as JSON text; empty when the run ended without one.
    public var output: String

    /// The row of a terminal result; `location` is its agent's as last heard.
    public init(_ result: ResultMessage, location: AgentLocation?) {
        requestID = result.requestID
        agentID = result.agentID
        module = result.module
        moduleVersion = result.moduleVersion
        state = result.state
        timeMilliseconds = result.finishedAtMilliseconds ?? result.atMilliseconds
        if let started = result.startedAtMilliseconds, let finished = result.finishedAtMilliseconds {
            durationMilliseconds = Double(finished - started)
        }
        self.location = location ?? AgentLocation()
        error = result.error ?? ""
        output = result.output?.text ?? ""
        if let output = result.output { readFigures(output) }
    }

    private mutating func readFigures(_ output: JSONValue) {
        target = output["host"]?.stringValue ?? output["url"]?.stringValue ?? output["name"]?.stringValue ?? ""
        address = output["address"]?.stringValue ?? ""
        let number = { (key: String) in output[key]?.numberValue }
        switch module {
        case "ping_module":
            rtts = output["packets"]?.arrayValue?.compactMap { $0["rtt_ms"]?.numberValue } ?? []
            sent = Int(number("sent") ?? 0)
            received = Int(number("received") ?? Double(rtts.count))
        case "tcping":
            rtts = output["attempts"]?.arrayValue?.compactMap { $0["connect_ms"]?.numberValue } ?? []
            sent = Int(number("sent") ?? 0)
            received = Int(number("connected") ?? Double(rtts.count))
        case "dns":
            if let time = number("query_time_ms") { rtts = [time] }
            sent = 1
            received = output["rcode"] == nil ? 0 : 1
        case "http":
            let timings = output["timings_ms"]?.objectValue ?? [:]
            for (key, value) in timings { if let value = value.numberValue { phases[key] = value } }
            if let total = phases["total"] { rtts = [total] }
            httpStatus = Int(number("status") ?? 0)
            sent = 1
            received = httpStatus > 0 ? 1 : 0
        case "traceroute", "mtr":
            hops = Int(number("hop_count") ?? 0)
            reached = output["reached"]?.boolValue ?? false
            if module == "mtr", let last = output["hops"]?.arrayValue?.last {
                sent = Int(last["sent"]?.numberValue ?? 0)
                received = reached ? Int(last["received"]?.numberValue ?? 0) : 0
            }
        default:
            break
        }
    }

    /// The row as one line of `INSERT … FORMAT JSONEachRow`.
    public var jsonLine: [UInt8] {
        func optional(_ value: Double?) -> JSONValue { value.map(JSONValue.number) ?? .null }
        let fields: [String: JSONValue] = [
            "request_id": .string(requestID), "agent_id": .string(agentID), "module": .string(module),
            "module_version": .string(moduleVersion), "state": .string(state), "target": .string(target), "address": .string(address),
            "time": .number(Double(timeMilliseconds / 1000)), "time_ms": .number(Double(timeMilliseconds)),
            "duration_ms": optional(durationMilliseconds),
            "continent": .string(location.continent ?? ""), "country": .string(location.country ?? ""),
            "region": .string(location.region ?? ""), "city": .string(location.city ?? ""),
            "latitude": optional(location.latitude), "longitude": optional(location.longitude),
            "asn": .number(Double(location.asn ?? 0)), "network": .string(location.network ?? ""),
            "tags": .array(location.tags.map(JSONValue.string)),
            "sent": .number(Double(sent)), "received": .number(Double(received)), "rtts": .array(rtts.map(JSONValue.number)),
            "hops": .number(Double(hops)), "reached": .number(reached ? 1 : 0), "http_status": .number(Double(httpStatus)),
            "resolve_ms": optional(phases["resolve"]), "connect_ms": optional(phases["connect"]), "tls_ms": optional(phases["tls"]),
            "first_byte_ms": optional(phases["first_byte"]), "total_ms": optional(phases["total"]),
            "error": .string(error), "output": .string(output),
        ]
        return JSONValue.object(fields).bytes + [UInt8(ascii: "\n")]
    }
}
