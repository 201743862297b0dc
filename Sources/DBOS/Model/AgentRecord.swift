/// An agent as DBOS keeps it: what it last said about itself (`info`, the heartbeat's JSON:
/// name, hostname, version, start time, module specs) and when DBOS heard it.
public struct AgentRecord: Sendable, Hashable {
    public var id: String
    public var info: [UInt8]
    public var firstSeenMilliseconds: Int64
    public var lastSeenMilliseconds: Int64

    public init(id: String, info: [UInt8], firstSeenMilliseconds: Int64 = 0, lastSeenMilliseconds: Int64 = 0) {
        self.id = id
        self.info = info
        self.firstSeenMilliseconds = firstSeenMilliseconds
        self.lastSeenMilliseconds = lastSeenMilliseconds
    }
}
