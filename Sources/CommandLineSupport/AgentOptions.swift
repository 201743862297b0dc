import Agent
import ArgumentParser
import FoundationEssentials
import Logging
import NATSClient

/// The options of `imn agent` and `imn-agent` (the agent alone, a smaller executable).
public struct AgentOptions: ParsableArguments {
    public static let abstract = "Run a measurement agent: heartbeats, commands from the server, results to JetStream, /metrics."
    public static let discussion = """
        Built-in modules: echo_module, faulty_module, ping_module, tcping, heartbeat_module; more from \
        manifests in --modules-dir (JSON: name, version, description, input_schema, command). Commands arrive on \
        imn.cmd.<id>.<module>; results and state transitions go to the IMN_RESULTS stream, kept in an \
        on-disk outbox (in --state-dir) until JetStream acknowledges them. Starts even when NATS is down.

        Telemetry: traces, metrics and logs go over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT \
        (default http://localhost:4318) as service imn-agent; OTEL_SDK_DISABLED=true turns it off. With \
        no collector listening, exports are dropped and counted; nothing waits for them.
        """

    public init() {}

    @Option(help: "Agent name, shown in heartbeats (required; env: IMN_AGENT_NAME or AGENT_NAME).") var name: String?
    @Option(help: "Agent id (default: kept in --state-dir, made once).") var id: String?
    @Option(help: "NATS server URLs, comma-separated (env: IMN_NATS_URL or NATS_URL).") var natsURL: String?
    @Option(help: "Address of /metrics, /health and /modules.") var metricsHost = "127.0.0.1"
    @Option(help: "Port of /metrics, /health and /modules.") var metricsPort = 9101
    @Option(help: "Folder for the agent id and the result outbox (default: .imn/agents/<name>).") var stateDir: String?
    @Option(help: "Folder of external module manifests (*.json), watched while the agent runs.") var modulesDir: String?
    @Option(help: "Seconds between heartbeats.") var heartbeatInterval = 5.0
    @Option(help: "Largest module output published, in bytes of JSON; a larger one makes the run an error.") var maxOutputBytes = 256 * 1024
    @Option(help: "Measurements of all modules running at once; more are rejected as overloaded.") var maxConcurrentRuns = 64
    @Option(
        help: """
            Special-purpose ranges probes may still reach, comma-separated CIDRs (env: IMN_ALLOW_TARGETS). \
            By default private, loopback, link-local, multicast and unspecified addresses are refused.
            """)
    var allowTargets: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: Logger.Level = .info
    @OptionGroup(title: "Location (carried in heartbeats; measurements select agents by it)") var location: LocationOptions

    /// --name, else the environment's.
    var agentName: String {
        get throws {
            guard let name = name ?? EnvironmentSettings().agentName else {
                throw ValidationError("an agent needs a name: --name NAME (or IMN_AGENT_NAME in the environment)")
            }
            return name
        }
    }

    public func validate() throws {
        _ = try agentName
        guard (0...65535).contains(metricsPort) else { throw ValidationError("--metrics-port must be 0–65535") }
        guard heartbeatInterval >= 0.1 else { throw ValidationError("--heartbeat-interval must be at least 0.1 s") }
        guard (1024...(900 * 1024)).contains(maxOutputBytes) else {
            throw ValidationError("--max-output-bytes must be 1024–921600 (a result must fit in one JetStream message)")
        }
        guard maxConcurrentRuns >= 1 else { throw ValidationError("--max-concurrent-runs must be at least 1") }
        _ = try location.resolved()
    }

    /// Runs the agent and its HTTP endpoint until SIGTERM or SIGINT.
    public func run() async throws {
        let name = try agentName
        let telemetry = try ServiceRunner.telemetry(service: "imn-agent", instanceID: id ?? name, level: logLevel)
        let logger = Logger(label: "imn.agent")
        var configuration = AgentConfiguration(
            name: name, stateDirectory: URL(fileURLWithPath: stateDir ?? ".imn/agents/\(name)", isDirectory: true))
        configuration.id = id
        configuration.modulesDirectory = modulesDir.map { URL(fileURLWithPath: $0, isDirectory: true) }
        configuration.nats = NATSConfiguration(url: natsURL ?? EnvironmentSettings().natsURL ?? NATSConfiguration.localURL)
        configuration.metricsHost = metricsHost
        configuration.metricsPort = metricsPort
        configuration.heartbeatInterval = .milliseconds(Int64(heartbeatInterval * 1000))
        configuration.maxOutputBytes = maxOutputBytes
        configuration.maxConcurrentRuns = maxConcurrentRuns
        configuration.location = try location.resolved()
        do {
            configuration.targetPolicy = try TargetPolicy(allowing: allowTargets ?? ProcessInfo.processInfo.environment["IMN_ALLOW_TARGETS"] ?? "")
        } catch {
            throw ValidationError("--allow-targets: \(error)")
        }
        let metrics = AgentMetrics(also: telemetry.enabled ? telemetry.metrics : nil, extra: { telemetry.prometheusText() })
        let runtime: AgentRuntime
        do {
            runtime = try AgentRuntime(configuration: configuration, modules: ModuleHost(BuiltInModules.all()), metrics: metrics, logger: logger)
        } catch {
            throw ValidationError("\(error)")
        }
        let http = try AgentHTTP.service(runtime: runtime, metrics: metrics)
        try await ServiceRunner.run([runtime, http], telemetry: telemetry, logger: logger)
    }
}
