/// Published by every agent on `imn.hb.<agent>` (every 5 s by default, and at once when its
/// modules change). The module specs (with their schemas, most of a heartbeat's bytes and of the
/// time to encode and decode it) travel in the first ``modulesEvery`` heartbeats, when they change
/// and in every ``modulesEvery``-th; the others say `modules_omitted` and the server keeps the
/// specs it has (a server that never heard them learns them within ``modulesEvery`` intervals).
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
    /// The specs are those of the agent's previous heartbeats (and `modules` is empty).
    public var modulesOmitted: Bool
    /// CPU, memory, load, disk and network figures from /proc, when available.
    public var system: JSONValue?
    /// Where the agent measures from, as it declared itself at start (nil: not declared).
    public var location: AgentLocation?

    public init(
        agentID: String, name: String, hostname: String, version: String, startedAtMilliseconds: Int64, sentAtMilliseconds: Int64,
        sequence: Int64, modules: [ModuleSpec], modulesOmitted: Bool = false, system: JSONValue? = nil, location: AgentLocation? = nil
    ) {
        self.agentID = agentID
        self.name = name
        self.hostname = hostname
        self.version = version
        self.startedAtMilliseconds = startedAtMilliseconds
        self.sentAtMilliseconds = sentAtMilliseconds
        self.sequence = sequence
        self.modules = modules
        self.modulesOmitted = modulesOmitted
        self.system = system
        self.location = location
    }

    /// Full specs at least this often (in heartbeats), so a server that missed a change catches up.
    public static let modulesEvery: Int64 = 12

    enum CodingKeys: String, CodingKey {
        case agentID = "agent_id", name, hostname, version, startedAtMilliseconds = "started_at_ms", sentAtMilliseconds = "sent_at_ms"
        case sequence, modules, modulesOmitted = "modules_omitted", system, location
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        agentID = try container.decode(String.self, forKey: .agentID)
        name = try container.decode(String.self, forKey: .name)
        hostname = try container.decode(String.self, forKey: .hostname)
        version = try container.decode(String.self, forKey: .version)
        startedAtMilliseconds = try container.decode(Int64.self, forKey: .startedAtMilliseconds)
        sentAtMilliseconds = try container.decode(Int64.self, forKey: .sentAtMilliseconds)
        sequence = try container.decode(Int64.self, forKey: .sequence)
        modulesOmitted = try container.decodeIfPresent(Bool.self, forKey: .modulesOmitted) ?? false
        modules = try modulesOmitted ? [] : container.decode([ModuleSpec].self, forKey: .modules)
        system = try container.decodeIfPresent(JSONValue.self, forKey: .system)
        location = try container.decodeIfPresent(AgentLocation.self, forKey: .location)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(agentID, forKey: .agentID)
        try container.encode(name, forKey: .name)
        try container.encode(hostname, forKey: .hostname)
        try container.encode(version, forKey: .version)
        try container.encode(startedAtMilliseconds, forKey: .startedAtMilliseconds)
        try container.encode(sentAtMilliseconds, forKey: .sentAtMilliseconds)
        try container.encode(sequence, forKey: .sequence)
        if modulesOmitted {
            try container.encode(true, forKey: .modulesOmitted)
        } else {
            // Without output schemas: the server checks inputs only (the agent's /modules and the
            // server's /openapi.json show the output schemas).
            try container.encode(modules.map { $0.outputSchema == nil ? $0 : $0.withoutOutputSchema }, forKey: .modules)
        }
        try container.encodeIfPresent(system, forKey: .system)
        try container.encodeIfPresent(location, forKey: .location)
    }
}
