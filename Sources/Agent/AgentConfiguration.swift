import FoundationEssentials
import IMNCore
import NATSClient

/// Everything `imn agent` is told. Defaults are those of the first local agent.
public struct AgentConfiguration: Sendable {
    public var name: String
    /// Given on the command line; otherwise read from (or made once and kept in) the state directory.
    public var id: String?
    public var nats = NATSConfiguration()
    /// Keeps the agent id and the result outbox.
    public var stateDirectory: URL
    /// Manifests of external modules, watched while the agent runs.
    public var modulesDirectory: URL?
    public var heartbeatInterval: Duration = .seconds(5)
    /// A run's timeout when the command gives none, and the most a command may ask for.
    public var defaultTimeout: Duration = .seconds(30)
    public var maxTimeout: Duration = .seconds(300)
    public var metricsHost = "127.0.0.1"
    /// `/metrics` and `/health`; 0 picks a free port (tests).
    public var metricsPort = 9101
    /// Largest module output published, as encoded JSON; a larger one makes the run an error.
    /// (JetStream refuses messages over its max_payload, 1 MiB by default.)
    public var maxOutputBytes = 256 * 1024
    /// Measurements of all modules running at once; more are rejected as overloaded.
    public var maxConcurrentRuns = 64
    /// Which targets probes may reach: public addresses, plus the allowed ranges.
    public var targetPolicy = TargetPolicy.publicOnly
    /// Where the agent measures from (validated), carried in every heartbeat.
    public var location = AgentLocation()

    public init(name: String, stateDirectory: URL) {
        self.name = name
        self.stateDirectory = stateDirectory
    }
}
