/// A state transition of a run, published to the `IMN_RESULTS` stream on
/// `imn.res.<agent>.<module>` with `Nats-Msg-Id` = `<request id>:<state>`. The terminal one
/// (completed, error, failed) carries the output or the error.
public struct ResultMessage: Sendable, Hashable, Codable {
    public var requestID: String
    public var agentID: String
    public var module: String
    public var moduleVersion: String
    /// started, running, completed, error or failed.
    public var state: String
    public var atMilliseconds: Int64
    public var startedAtMilliseconds: Int64?
    public var finishedAtMilliseconds: Int64?
    public var output: JSONValue?
    public var error: String?
    public var agentStartedAtMilliseconds: Int64
    public var agentVersion: String

    public init(
        requestID: String, agentID: String, module: String, moduleVersion: String, state: String, atMilliseconds: Int64,
        agentStartedAtMilliseconds: Int64, agentVersion: String
    ) {
        self.requestID = requestID
        self.agentID = agentID
        self.module = module
        self.moduleVersion = moduleVersion
        self.state = state
        self.atMilliseconds = atMilliseconds
        self.agentStartedAtMilliseconds = agentStartedAtMilliseconds
        self.agentVersion = agentVersion
    }

    /// The message as JSON: the bytes `JSONEncoder` (keys sorted) would write, at a fraction of its
    /// cost (an agent encodes one per transition).
    public var jsonBytes: [UInt8] {
        var fields: [String: JSONValue] = [
            "request_id": .string(requestID), "agent_id": .string(agentID), "module": .string(module),
            "module_version": .string(moduleVersion), "state": .string(state), "at_ms": .number(Double(atMilliseconds)),
            "agent_started_at_ms": .number(Double(agentStartedAtMilliseconds)), "agent_version": .string(agentVersion),
        ]
        if let startedAtMilliseconds { fields["started_at_ms"] = .number(Double(startedAtMilliseconds)) }
        if let finishedAtMilliseconds { fields["finished_at_ms"] = .number(Double(finishedAtMilliseconds)) }
        if let output { fields["output"] = output }
        if let error { fields["error"] = .string(error) }
        return JSONValue.object(fields).bytes
    }

    /// The message from its JSON (what ``jsonBytes`` writes): what `JSONDecoder` reads from the
    /// same bytes, at a fraction of its cost (the server reads every transition twice: ingestion
    /// and the archive). Nil when the bytes are not such a message.
    public init?(json bytes: some Sequence<UInt8>) {
        guard let fields = JSONValue(parsing: bytes)?.objectValue else { return nil }
        func string(_ key: String) -> String?? {
            switch fields[key] {
            case nil, .null?: .some(nil)
            case .string(let value)?: .some(value)
            default: nil
            }
        }
        func integer(_ key: String) -> Int64?? {
            switch fields[key] {
            case nil, .null?: .some(nil)
            case .number(let value)?: Int64(exactly: value).map { .some($0) }
            default: nil
            }
        }
        guard let requestID = string("request_id") ?? nil, let agentID = string("agent_id") ?? nil, let module = string("module") ?? nil,
            let moduleVersion = string("module_version") ?? nil, let state = string("state") ?? nil, let at = integer("at_ms") ?? nil,
            let agentStarted = integer("agent_started_at_ms") ?? nil, let agentVersion = string("agent_version") ?? nil,
            let started = integer("started_at_ms"), let finished = integer("finished_at_ms"), let error = string("error")
        else { return nil }
        self.init(
            requestID: requestID, agentID: agentID, module: module, moduleVersion: moduleVersion, state: state, atMilliseconds: at,
            agentStartedAtMilliseconds: agentStarted, agentVersion: agentVersion)
        startedAtMilliseconds = started
        finishedAtMilliseconds = finished
        self.error = error
        if let value = fields["output"], value != .null { output = value }  // null is no output, as for JSONDecoder
    }

    /// The deduplication id of this transition.
    public var messageID: String { "\(requestID):\(state)" }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", agentID = "agent_id", module, moduleVersion = "module_version", state, atMilliseconds = "at_ms"
        case startedAtMilliseconds = "started_at_ms", finishedAtMilliseconds = "finished_at_ms", output, error
        case agentStartedAtMilliseconds = "agent_started_at_ms", agentVersion = "agent_version"
    }
}
