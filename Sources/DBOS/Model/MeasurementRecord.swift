/// One agent's execution of a measurement: its request id names its module state and result.
public struct MeasurementRun: Sendable, Hashable {
    public var requestID: String
    public var agentID: String

    public init(requestID: String, agentID: String) {
        self.requestID = requestID
        self.agentID = agentID
    }
}

/// A measurement as stored: what was asked (`spec`, JSON kept as the server wrote it) and the runs
/// it was given when first created. A retry with the same id never changes them.
public struct MeasurementRecord: Sendable, Hashable {
    public var id: String
    public var module: String
    public var spec: [UInt8]
    public var runs: [MeasurementRun]
    public var createdAtMilliseconds: Int64 = 0
    public var actor: String = ""

    public init(id: String, module: String, spec: [UInt8], runs: [MeasurementRun]) {
        self.id = id
        self.module = module
        self.spec = spec
        self.runs = runs
    }
}

/// The once-task that ends what a measurement left unfinished, created with it.
public struct DeadlineTask: Sendable, Hashable {
    public var id: String
    public var dueAtMilliseconds: Int64
    public var payload: [UInt8]
    public var maxDeliveries: Int

    public init(id: String, dueAtMilliseconds: Int64, payload: [UInt8], maxDeliveries: Int = 20) {
        self.id = id
        self.dueAtMilliseconds = dueAtMilliseconds
        self.payload = payload
        self.maxDeliveries = maxDeliveries
    }
}
