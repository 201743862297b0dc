/// How the store keeps things. Defaults are what `imn dbos` uses.
public struct DBOSStoreConfiguration: Sendable {
    /// Prefix of every key (see ``DBOSKeys``).
    public var keyPrefix: String = "imn:"
    /// Largest result payload accepted.
    public var maxPayloadBytes: Int = 1024 * 1024
    /// How long a stored result's request id blocks a second store, measured on the Redis clock.
    public var idempotencyWindowSeconds: Int = 24 * 3600
    /// Age (from creation, on the Redis clock) after which ended measurements, their states and
    /// results are removed by the retention sweep; 0 keeps everything for ever.
    public var retentionSeconds: Int = 7 * 24 * 3600
    /// Approximate length the audit stream is trimmed to.
    public var maxEvents: Int = 100_000
    /// Names this DBOS process in result metadata and events.
    public var serverID: String = "dbos"
    /// Largest page a list call returns.
    public var maxPageSize: Int = 1000
    public var defaultPageSize: Int = 100

    public init() {}
}
