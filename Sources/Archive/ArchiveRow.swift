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

    /// The row of a result message as agents publish it (a ``ResultMessage``'s JSON), read in
    /// place: the figures are taken from the text and the output is kept as the agent wrote it,
    /// with no tree built. Nil when the message is not one ``ResultMessage/init(json:)`` reads.
    /// The location is left empty for the caller to fill in.
    public init?(json bytes: UnsafeBufferPointer<UInt8>) {
        var fields = MessageFields()
        guard JSONRawValue.readObject(bytes, { fields.take($0, $1) }), let row = Self(fields) else { return nil }
        self = row
    }

    /// The row of a terminal result; `location` is its agent's as last heard.
    public init(_ result: ResultMessage, location: AgentLocation?) {
        // One way to read a result: its JSON, which is what the archive receives.
        guard let row = result.jsonBytes.withUnsafeBufferPointer({ Self(json: $0) }) else {
            preconditionFailure("a ResultMessage's own JSON did not read as a result message")
        }
        self = row
        self.location = location ?? AgentLocation()
    }

    /// A result message's members as they are walked, with ``ResultMessage/init(json:)``'s
    /// rules: the first of duplicate keys; strings and whole numbers where it asks for them,
    /// null as absent.
    private struct MessageFields {
        var requestID, agentID, module, moduleVersion, state, agentVersion, error: String??
        var at, agentStarted, started, finished: Int64??
        var output: JSONRawValue??
        var valid = true

        mutating func take(_ key: JSONKey, _ value: JSONRawValue) {
            func string(_ field: inout String??) {
                guard field == nil else { return }  // the first of duplicates
                if value.isNull { field = .some(nil) } else if let text = value.string { field = text } else { valid = false }
            }
            func integer(_ field: inout Int64??) {
                guard field == nil else { return }
                if value.isNull {
                    field = .some(nil)
                } else if let number = value.number.flatMap({ Int64(exactly: $0) }) {
                    field = number
                } else {
                    valid = false
                }
            }
            if key.is("request_id") {
                string(&requestID)
            } else if key.is("agent_id") {
                string(&agentID)
            } else if key.is("module") {
                string(&module)
            } else if key.is("module_version") {
                string(&moduleVersion)
            } else if key.is("state") {
                string(&state)
            } else if key.is("at_ms") {
                integer(&at)
            } else if key.is("agent_started_at_ms") {
                integer(&agentStarted)
            } else if key.is("agent_version") {
                string(&agentVersion)
            } else if key.is("started_at_ms") {
                integer(&started)
            } else if key.is("finished_at_ms") {
                integer(&finished)
            } else if key.is("error") {
                string(&error)
            } else if key.is("output"), output == nil {
                output = value.isNull ? .some(nil) : value
            }
        }
    }

    private init?(_ fields: MessageFields) {
        guard fields.valid, let requestID = fields.requestID ?? nil, let agentID = fields.agentID ?? nil, let module = fields.module ?? nil,
            let moduleVersion = fields.moduleVersion ?? nil, let state = fields.state ?? nil, let at = fields.at ?? nil,
            (fields.agentStarted ?? nil) != nil, (fields.agentVersion ?? nil) != nil
        else { return nil }
        self.requestID = requestID
        self.agentID = agentID
        self.module = module
        self.moduleVersion = moduleVersion
        self.state = state
        let (started, finished) = (fields.started ?? nil, fields.finished ?? nil)
        // Within ClickHouse's DateTime (1970–2106): a row it cannot take would hold its batch back.
        timeMilliseconds = min(max(finished ?? at, 0), 4_294_967_295_000)
        if let started, let finished {
            let (duration, overflow) = finished.subtractingReportingOverflow(started)
            durationMilliseconds = overflow ? nil : Double(duration)
        }
        location = AgentLocation()
        self.error = (fields.error ?? nil) ?? ""
        if let output = fields.output ?? nil {
            self.output = String(decoding: output.text, as: UTF8.self)
            readFigures(output)
        } else {
            self.output = ""
        }
    }

    /// The output's members the figures come from.
    private enum Field: Int, CaseIterable {
        case host, url, name, address, sent, received, connected, packets, attempts, queryTime, rcode, timings, status, hopCount, reached, hops

        var key: StaticString {
            switch self {
            case .host: "host"
            case .url: "url"
            case .name: "name"
            case .address: "address"
            case .sent: "sent"
            case .received: "received"
            case .connected: "connected"
            case .packets: "packets"
            case .attempts: "attempts"
            case .queryTime: "query_time_ms"
            case .rcode: "rcode"
            case .timings: "timings_ms"
            case .status: "status"
            case .hopCount: "hop_count"
            case .reached: "reached"
            case .hops: "hops"
            }
        }
    }

    /// The first member named `key` of an object (a tree keeps the first of duplicates).
    private static func member(_ object: JSONRawValue?, _ key: StaticString) -> JSONRawValue? {
        var found: JSONRawValue?
        object?.forEachMember { name, value in
            if found == nil, name.is(key) { found = value }
        }
        return found
    }

    private mutating func readFigures(_ output: JSONRawValue) {
        var fields = [JSONRawValue?](repeating: nil, count: Field.allCases.count)
        output.forEachMember { key, value in
            for field in Field.allCases where key.is(field.key) {
                if fields[field.rawValue] == nil { fields[field.rawValue] = value }
                return
            }
        }
        let text = { (field: Field) in fields[field.rawValue]?.string }
        let number = { (field: Field) in fields[field.rawValue]?.number }
        target = text(.host) ?? text(.url) ?? text(.name) ?? ""
        address = text(.address) ?? ""
        // Outputs come from agents and external modules: counts are clamped to their columns' types.
        let count = { (value: Double?, limit: Double) -> Int in
            guard let value, value.isFinite else { return 0 }
            return Int(min(max(value.rounded(), 0), limit))
        }
        let u32 = Double(UInt32.max)
        let u16 = Double(UInt16.max)
        /// Of each element of a list such as `[{"rtt_ms": 1.5}, …]`, its member `key` when a number.
        func numbers(_ list: Field, _ key: StaticString) -> [Double] {
            var found: [Double] = []
            fields[list.rawValue]?.forEachElement { element in
                if let number = Self.member(element, key)?.number { found.append(number) }
            }
            return found
        }
        switch module {
        case "ping_module":
            rtts = numbers(.packets, "rtt_ms")
            sent = count(number(.sent), u32)
            received = count(number(.received) ?? Double(rtts.count), u32)
        case "tcping":
            rtts = numbers(.attempts, "connect_ms")
            sent = count(number(.sent), u32)
            received = count(number(.connected) ?? Double(rtts.count), u32)
        case "dns":
            if let time = number(.queryTime) { rtts = [time] }
            sent = 1
            received = fields[Field.rcode.rawValue] == nil ? 0 : 1
        case "http":
            var seen: Set<String> = []
            fields[Field.timings.rawValue]?.forEachMember { key, value in
                let name = key.string
                if seen.insert(name).inserted, let number = value.number { phases[name] = number }
            }
            if let total = phases["total"] { rtts = [total] }
            httpStatus = count(number(.status), u16)
            sent = 1
            received = httpStatus > 0 ? 1 : 0
        case "traceroute", "mtr":
            hops = count(number(.hopCount), u16)
            reached = fields[Field.reached.rawValue]?.bool ?? false
            if module == "mtr" {
                var last: JSONRawValue?
                fields[Field.hops.rawValue]?.forEachElement { last = $0 }
                sent = count(Self.member(last, "sent")?.number, u32)
                received = reached ? count(Self.member(last, "received")?.number, u32) : 0
            }
        default:
            break
        }
    }
}
