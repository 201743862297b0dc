/// Published by every agent on `imn.hb.<agent>` (every 5 s by default, and at once when its
/// modules change).
public struct Heartbeat: Sendable, Hashable, Codable {
    public var agentID: String
    public var name: String
    public var hostname: String
    public var version: String
    public var startedAtMilliseconds: Int64
    public var sentAtMilliseconds: Int64
    /// Heartbeats sent so far by this run of the agent.
    public var sequence: Int64
    public var modules: [ModuleSpec]
    /// CPU, memory, load, disk and network figures from /proc, when available.
    public var system: JSONValue?
    /// Where the agent measures from, as it declared itself at start (nil: not declared).
    public var location: AgentLocation?

    public init(
        agentID: String, name: String, hostname: String, version: String, startedAtMilliseconds: Int64, sentAtMilliseconds: Int64,
        sequence: Int64, modules: [ModuleSpec], system: JSONValue? = nil, location: AgentLocation? = nil
    ) {
        self.agentID = agentID
        self.name = name
        self.hostname = hostname
        self.version = version
        self.startedAtMilliseconds = startedAtMilliseconds
        self.sentAtMilliseconds = sentAtMilliseconds
        self.sequence = sequence
        self.modules = modules
        self.system = system
        self.location = location
    }

    enum CodingKeys: String, CodingKey {
        case agentID = "agent_id", name, hostname, version, startedAtMilliseconds = "started_at_ms", sentAtMilliseconds = "sent_at_ms"
        case sequence, modules, system, location
    }
}
