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
        // Within ClickHouse's DateTime (1970–2106): a row it cannot take would hold its batch back.
        timeMilliseconds = min(max(result.finishedAtMilliseconds ?? result.atMilliseconds, 0), 4_294_967_295_000)
        if let started = result.startedAtMilliseconds, let finished = result.finishedAtMilliseconds {
            let (duration, overflow) = finished.subtractingReportingOverflow(started)
            durationMilliseconds = overflow ? nil : Double(duration)
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
        // Outputs come from agents and external modules: counts are clamped to their columns' types.
        let count = { (value: Double?, limit: Double) -> Int in
            guard let value, value.isFinite else { return 0 }
            return Int(min(max(value.rounded(), 0), limit))
        }
        let u32 = Double(UInt32.max)
        let u16 = Double(UInt16.max)
        switch module {
        case "ping_module":
            rtts = output["packets"]?.arrayValue?.compactMap { $0["rtt_ms"]?.numberValue } ?? []
            sent = count(number("sent"), u32)
            received = count(number("received") ?? Double(rtts.count), u32)
        case "tcping":
            rtts = output["attempts"]?.arrayValue?.compactMap { $0["connect_ms"]?.numberValue } ?? []
            sent = count(number("sent"), u32)
            received = count(number("connected") ?? Double(rtts.count), u32)
        case "dns":
            if let time = number("query_time_ms") { rtts = [time] }
            sent = 1
            received = output["rcode"] == nil ? 0 : 1
        case "http":
            let timings = output["timings_ms"]?.objectValue ?? [:]
            for (key, value) in timings { if let value = value.numberValue { phases[key] = value } }
            if let total = phases["total"] { rtts = [total] }
            httpStatus = count(number("status"), u16)
            sent = 1
            received = httpStatus > 0 ? 1 : 0
        case "traceroute", "mtr":
            hops = count(number("hop_count"), u16)
            reached = output["reached"]?.boolValue ?? false
            if module == "mtr", let last = output["hops"]?.arrayValue?.last {
                sent = count(last["sent"]?.numberValue, u32)
                received = reached ? count(last["received"]?.numberValue, u32) : 0
            }
        default:
            break
        }
    }

    /// Appends the row as one line of `INSERT … FORMAT JSONEachRow` (written field by field:
    /// the archive writes tens of thousands a second).
    public func writeJSONLine(into line: inout [UInt8]) {
        var first = true
        func key(_ name: StaticString) {
            line.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
            first = false
            line.append(UInt8(ascii: "\""))
            line.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            line.append(contentsOf: "\":".utf8)
        }
        func string(_ name: StaticString, _ value: String) {
            key(name)
            JSONValue.write(value, into: &line)
        }
        func number(_ name: StaticString, _ value: Double?) {
            key(name)
            if let value { JSONValue.write(value, into: &line) } else { line.append(contentsOf: "null".utf8) }
        }
        string("request_id", requestID)
        string("agent_id", agentID)
        string("module", module)
        string("module_version", moduleVersion)
        string("state", state)
        string("target", target)
        string("address", address)
        number("time", Double(timeMilliseconds / 1000))
        number("time_ms", Double(timeMilliseconds))
        number("duration_ms", durationMilliseconds)
        string("continent", location.continent ?? "")
        string("country", location.country ?? "")
        string("region", location.region ?? "")
        string("city", location.city ?? "")
        number("latitude", location.latitude)
        number("longitude", location.longitude)
        number("asn", Double(location.asn ?? 0))
        string("network", location.network ?? "")
        key("tags")
        line.append(UInt8(ascii: "["))
        for (index, tag) in location.tags.enumerated() {
            if index > 0 { line.append(UInt8(ascii: ",")) }
            JSONValue.write(tag, into: &line)
        }
        line.append(UInt8(ascii: "]"))
        number("sent", Double(sent))
        number("received", Double(received))
        key("rtts")
        line.append(UInt8(ascii: "["))
        for (index, rtt) in rtts.enumerated() {
            if index > 0 { line.append(UInt8(ascii: ",")) }
            JSONValue.write(rtt, into: &line)
        }
        line.append(UInt8(ascii: "]"))
        number("hops", Double(hops))
        number("reached", reached ? 1 : 0)
        number("http_status", Double(httpStatus))
        number("resolve_ms", phases["resolve"])
        number("connect_ms", phases["connect"])
        number("tls_ms", phases["tls"])
        number("first_byte_ms", phases["first_byte"])
        number("total_ms", phases["total"])
        string("error", error)
        string("output", output)
        line.append(contentsOf: "}\n".utf8)
    }
}
