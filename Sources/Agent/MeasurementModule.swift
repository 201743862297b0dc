import IMNCore
import Logging

/// A measurement the agent can run. Input has been validated against `spec.inputSchema` and
/// its defaults applied before `run` is called; `run` should honour task cancellation (the
/// per-request timeout cancels it).
public protocol MeasurementModule: Sendable {
    var spec: ModuleSpec { get }
    func run(input: JSONValue, context: ModuleContext) async throws -> JSONValue
}

/// What a run knows about itself.
public struct ModuleContext: Sendable {
    public var agentID: String
    public var requestID: String
    public var logger: Logger
    /// Records probe figures (RTTs, loss) as metrics with bounded labels.
    public var metrics: ProbeRecorder
    /// Which resolved targets probes may reach.
    public var targetPolicy: TargetPolicy

    public init(agentID: String, requestID: String, logger: Logger, metrics: ProbeRecorder, targetPolicy: TargetPolicy = .publicOnly) {
        self.agentID = agentID
        self.requestID = requestID
        self.logger = logger
        self.metrics = metrics
        self.targetPolicy = targetPolicy
    }
}

/// A module's own failure: the run ends in `error` with this message (bad target, refused
/// connection, a module reporting an error). Anything else that escapes a run ends in `failed`.
public struct ModuleError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The run died abnormally (the built-in equivalent of a crashed process): ends in `failed`.
public struct ModuleCrash: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
