/// The body of a request on `imn.cmd.<agent>.<module>`.
public struct CommandRequest: Sendable, Hashable, Codable {
    public var requestID: String
    public var input: JSONValue
    /// The run is stopped and marked failed after this long (default 30 s, at most 300 s).
    public var timeoutSeconds: Double?

    public init(requestID: String, input: JSONValue, timeoutSeconds: Double? = nil) {
        self.requestID = requestID
        self.input = input
        self.timeoutSeconds = timeoutSeconds
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", input, timeoutSeconds = "timeout_seconds"
    }
}

/// The agent's answer to a command: accepted (the run has started), or why not.
public struct CommandReply: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Codable { case accepted, rejected }
    public enum Reason: String, Sendable, Codable {
        case unknownModule = "unknown_module"
        case disabledModule = "disabled_module"
        case invalidInput = "invalid_input"
        case overloaded
        case malformedCommand = "malformed_command"
    }

    public var status: Status
    public var reason: Reason?
    public var message: String?
    /// For `invalid_input`: one entry per violation, with a JSON pointer.
    public var violations: [SchemaViolation]?
    public var agentID: String

    public init(status: Status, reason: Reason? = nil, message: String? = nil, violations: [SchemaViolation]? = nil, agentID: String) {
        self.status = status
        self.reason = reason
        self.message = message
        self.violations = violations
        self.agentID = agentID
    }

    enum CodingKeys: String, CodingKey {
        case status, reason, message, violations, agentID = "agent_id"
    }
}
