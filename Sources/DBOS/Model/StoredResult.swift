/// A measurement result as DBOS keeps it. `payload` is the module's output (JSON bytes),
/// stored as given; the rest is metadata.
public struct StoredResult: Sendable, Hashable {
    public var requestID: String
    public var agentID: String
    public var module: String
    /// The terminal state the result belongs to: completed, error or failed.
    public var status: ModuleStateName
    public var payload: [UInt8]
    public var startedAtMilliseconds: Int64 = 0
    public var finishedAtMilliseconds: Int64 = 0
    public var metadata = Metadata()

    public struct Metadata: Sendable, Hashable {
        /// Set by DBOS from the Redis clock when first stored.
        public var receivedAtMilliseconds: Int64 = 0
        public var agentStartTimeMilliseconds: Int64 = 0
        public var agentRuntimeVersion: String = ""
        public var moduleRevision: String = ""
        /// Set by DBOS: which DBOS process stored it.
        public var dbosServerID: String = ""
        /// How it arrived: `jetstream`, `api`, `replay`…
        public var ingestSource: String = ""

        public init() {}
    }

    public init(requestID: String, agentID: String, module: String, status: ModuleStateName, payload: [UInt8]) {
        self.requestID = requestID
        self.agentID = agentID
        self.module = module
        self.status = status
        self.payload = payload
    }
}
