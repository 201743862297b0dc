import FoundationEssentials
import IMNCore
import Logging
import NATSClient
import ServiceLifecycle

/// The measurement agent: heartbeats, commands, module runs, results through the outbox, and
/// control requests, over one NATS connection. It starts even when NATS is down and catches up
/// when NATS comes back (libnats reconnects; the outbox re-sends).
public final class AgentRuntime: Service {
    public let configuration: AgentConfiguration
    public let id: String
    public let modules: ModuleHost
    let metrics: AgentMetrics
    let logger: Logger
    let outbox: ResultOutbox
    let startedAt = Date()
    let hostname = ProcessInfo.processInfo.hostName
    let system = SystemStats()
    let watcher: ModuleDirectoryWatcher?
    let recentRequests = RecentRequests()

    public init(configuration: AgentConfiguration, modules: ModuleHost, metrics: AgentMetrics, logger: Logger = Logger(label: "imn.agent")) throws {
        self.configuration = configuration
        self.modules = modules
        modules.limitRuns(to: configuration.maxConcurrentRuns)
        self.metrics = metrics
        self.id = try AgentIdentity.resolve(given: configuration.id, stateDirectory: configuration.stateDirectory)
        var logger = logger
        logger[metadataKey: "agent.id"] = "\(id)"
        self.logger = logger
        self.outbox = try ResultOutbox(directory: configuration.stateDirectory.appendingPathComponent("outbox"), logger: logger)
        if let directory = configuration.modulesDirectory {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            watcher = ModuleDirectoryWatcher(directory: directory, modules: modules, logger: logger)
        } else {
            watcher = nil
        }
    }

    var startedAtMilliseconds: Int64 { Int64(startedAt.timeIntervalSince1970 * 1000) }

    public func run() async throws {
        var nats = configuration.nats
        nats.retryOnFailedConnect = true
        nats.name = "imn-agent-\(id)"
        // Replies arrive below the agent's own prefix, so NATS permissions can confine it (NATSAccess).
        nats.inboxPrefix = NATSAccess.inboxPrefix(agent: id)
        let connection = try await NATSConnection.connect(nats, logger: logger)
        logger.info("agent started", metadata: ["agent.name": "\(configuration.name)", "modules": "\(modules.specs.map(\.name))"])
        try await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await self.ensureResultsStream(connection) }
                group.addTask { await self.outbox.run(jetStream: connection.jetStream, onDepth: { self.metrics.outboxDepth($0) }) }
                group.addTask { await self.sendHeartbeats(connection) }
                group.addTask { await self.watchConnection(connection) }
                group.addTask { try await self.serveCommands(connection) }
                group.addTask { try await self.serveControl(connection) }
                if let watcher = self.watcher { group.addTask { await watcher.run() } }
            }
        }
        await connection.close()
        logger.info("agent stopped")
    }

    /// Creates `IMN_RESULTS` if it is missing (servers do too; whoever comes first).
    func ensureResultsStream(_ connection: NATSConnection) async {
        var delay = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                try await connection.jetStream.createOrUpdateStream(.imnResults)
                return
            } catch {
                logger.debug("results stream not ready", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    func watchConnection(_ connection: NATSConnection) async {
        for await state in connection.stateChanges() {
            metrics.natsConnected(state == .connected)
            metrics.natsReconnects(connection.statistics.reconnects)
            if state == .reconnecting { logger.warning("nats connection lost; reconnecting") }
            if state == .connected { logger.info("nats connected") }
        }
    }

    /// Every `heartbeatInterval`, and at once when the modules change.
    func sendHeartbeats(_ connection: NATSConnection) async {
        var sequence: Int64 = 0
        var lastGeneration = -1
        var lastSent = ContinuousClock.now - configuration.heartbeatInterval
        while !Task.isCancelled {
            let generation = modules.generation
            if generation != lastGeneration || ContinuousClock.now - lastSent >= configuration.heartbeatInterval {
                sequence += 1
                // The specs when they changed, in the first heartbeats (a server starting beside us
                // hears them) and in every modulesEvery-th.
                let omitted = generation == lastGeneration && sequence > Heartbeat.modulesEvery && sequence % Heartbeat.modulesEvery != 1
                let sample = system.sample()
                metrics.system(sample)
                let heartbeat = Heartbeat(
                    agentID: id, name: configuration.name, hostname: hostname, version: IMNVersion.current,
                    startedAtMilliseconds: startedAtMilliseconds, sentAtMilliseconds: Int64(Date().timeIntervalSince1970 * 1000),
                    sequence: sequence, modules: omitted ? [] : modules.specs, modulesOmitted: omitted, system: sample.json,
                    location: configuration.location.isEmpty ? nil : configuration.location)
                do {
                    try connection.publish(Subjects.heartbeat(agent: id), payload: Array(try JSONEncoder().encode(heartbeat)))
                    metrics.heartbeatSent()
                } catch {
                    logger.debug("heartbeat not sent", metadata: ["error": "\(error)"])
                }
                lastGeneration = generation
                lastSent = ContinuousClock.now
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}
