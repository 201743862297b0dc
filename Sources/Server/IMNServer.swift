import Archive
import DBOS
import Foundation
import Hummingbird
import HummingbirdWebSocket
import IMNCore
import Logging
import NATSClient
import ServiceLifecycle
import Synchronization

/// `imn server`: the REST API, the agent registry fed by heartbeats (and kept in DBOS), result
/// ingestion from JetStream into DBOS, and the scheduler.
public final class IMNServer: Service {
    public let configuration: ServerConfiguration
    let logger: Logger
    let registry: AgentRegistry
    let metrics: ServerMetrics
    private let onListening: @Sendable (Int) async -> Void
    private let servedRoutes = Mutex<[(method: String, path: String)]>([])

    public init(
        configuration: ServerConfiguration, logger: Logger = Logger(label: "imn.server"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.registry = AgentRegistry(timeout: configuration.heartbeatTimeout)
        self.metrics = ServerMetrics(also: configuration.additionalMetrics, extra: configuration.additionalExposition)
        self.onListening = onListening
    }

    /// The routes the router serves, as (method, OpenAPI path template); set once running.
    public var routes: [(method: String, path: String)] { servedRoutes.withLock { $0 } }

    public func run() async throws {
        var nats = configuration.nats
        nats.retryOnFailedConnect = true
        nats.name = "imn-\(configuration.serverID)"
        let connection = try await NATSConnection.connect(nats, logger: logger)
        let dbos = try DBOSClient(address: configuration.dbosAddress, tls: configuration.dbosTLS, metrics: metrics.factory)
        let ledger = MeasurementLedger(
            registry: registry, connection: connection, dbos: dbos, metrics: metrics, actor: configuration.serverID,
            stuckAfter: configuration.stuckAfter)
        let registry = self.registry
        let archiver = try configuration.archive.map { (archive) throws(ClickHouseError) in
            try ResultArchiver(configuration: archive, connection: connection, factory: metrics.factory, logger: logger) { id in
                registry.entry(id)?.heartbeat.location
            }
        }
        let api = MeasurementAPI(
            registry: registry, connection: connection, dbos: dbos, ledger: ledger, metrics: metrics, actor: configuration.serverID,
            history: archiver?.client)
        let ingestor = ResultIngestor(ledger: ledger, logger: logger)
        let scheduler = Scheduler(api: api, worker: configuration.serverID, logger: logger)
        let live = LiveFeed(hub: LiveHub(metrics: metrics))
        // DBOS's last_seen stays well within the heartbeat timeout, so a restarted server restores
        // the agents that are alive as alive.
        let recorder = HeartbeatRecorder(actor: configuration.serverID, refresh: min(.seconds(5), configuration.heartbeatTimeout / 3))
        let router = makeRouter(api, live: live.hub)
        let liveRouter = makeLiveRouter(live.hub)
        servedRoutes.withLock { routes in
            let template = RequestMetricsMiddleware<BasicRequestContext>.template
            routes =
                router.routes.map { (method: $0.method.rawValue, path: template($0.path.description)) }
                + liveRouter.routes.map { (method: $0.method.rawValue, path: template($0.path.description)) }
        }
        let app = makeApplication(router, liveRouter: liveRouter)
        // The DBOS client's connections run outside the group: when the group is cancelled, calls in
        // flight end first, then the client shuts down gracefully. (Cancelling its connections with
        // calls in flight tears streams down under them.)
        let connections = Task { try await dbos.run() }
        do {
            // Live clients' streams end first, so that their open responses let the HTTP server stop.
            try await withGracefulShutdownHandler {
                try await cancelWhenGracefulShutdown {
                    try await withThrowingDiscardingTaskGroup { group in
                        group.addTask { await self.reloadRegistry(dbos) }
                        group.addTask { await ingestor.run() }
                        if let archiver { group.addTask { await archiver.run() } }
                        group.addTask { try await ledger.follow { event in live.state(event) } }
                        group.addTask { try await self.followHeartbeats(connection, recorder: recorder, live: live) }
                        group.addTask { await recorder.run(dbos, logger: self.logger) }
                        group.addTask { await live.run() }
                        group.addTask { await scheduler.run() }
                        group.addTask { await self.watchAgents(live) }
                        group.addTask { try await app.run() }
                    }
                }
            } onGracefulShutdown: {
                live.hub.finishAll()
            }
        } catch {
            await shutDown(dbos, connections, connection)
            throw error
        }
        await shutDown(dbos, connections, connection)
    }

    private func shutDown(_ dbos: DBOSClient, _ connections: Task<Void, any Error>, _ connection: NATSConnection) async {
        dbos.close()
        _ = await connections.result
        await connection.close()
    }

    /// After a restart, the agents DBOS knows, with the time each was last heard, so the registry
    /// (and `/agents/dead`) does not start empty.
    func reloadRegistry(_ dbos: DBOSClient) async {
        for attempt in 0..<20 {
            do {
                var request = Imn_Dbos_V1_ListAgentsRequest()
                request.pageSize = 1000
                var loaded = 0
                repeat {
                    let page = try await DBOSClient.untraced { try await dbos.listAgents(request) }
                    let now = Int64(Date().timeIntervalSince1970 * 1000)
                    for agent in page.agents {
                        guard let heartbeat = try? JSONDecoder().decode(Heartbeat.self, from: agent.info) else { continue }
                        registry.restore(heartbeat, lastSeen: .now - .milliseconds(max(0, now - agent.lastSeenMs)))
                        loaded += 1
                    }
                    request.cursor = page.nextCursor
                } while !request.cursor.isEmpty
                logger.info("registry loaded from DBOS", metadata: ["agents": "\(loaded)"])
                return
            } catch {
                logger.debug("registry not loaded yet", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        logger.warning("registry not loaded from DBOS; it fills from heartbeats")
    }

    /// Every second: the agents that went silent (live events), and the alive and dead agents as
    /// gauges (for OTLP; `/metrics` reads them at each scrape).
    func watchAgents(_ live: LiveFeed) async {
        while !Task.isCancelled {
            for agent in registry.sweep() { live.agent(agent, alive: false) }
            let counts = registry.counts
            metrics.agents(total: counts.total, alive: counts.alive)
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Every heartbeat updates the registry and the live feed, and is recorded in DBOS in batches.
    func followHeartbeats(_ connection: NATSConnection, recorder: HeartbeatRecorder, live: LiveFeed) async throws {
        let heartbeats = try connection.subscribe(to: Subjects.allHeartbeats)
        var handled = 0
        for await message in heartbeats {
            // Thousands a second arrive back to back: let the HTTP handlers on this thread run too.
            handled += 1
            if handled % 64 == 0 { await Task.yield() }
            guard let heard = try? JSONDecoder().decode(Heartbeat.self, from: Data(message.payload)),
                Subjects.isValidToken(heard.agentID), message.subject == Subjects.heartbeat(agent: heard.agentID)
            else { continue }
            let recorded = registry.record(heard)
            let heartbeat = recorded.heartbeat
            live.heartbeat(heartbeat)
            metrics.heartbeatLag(milliseconds: Date.nowMilliseconds - heartbeat.sentAtMilliseconds)
            if recorded.cameAlive { live.agent(heartbeat.agentID, alive: true) }
            if let warnings = recorded.warnings, !warnings.isEmpty {
                logger.warning(
                    "module schemas use keywords the server cannot check", metadata: ["agent.id": "\(heartbeat.agentID)", "warnings": "\(warnings)"])
            }
            recorder.heard(heartbeat)
        }
    }

    func makeApplication(_ router: Router<BasicRequestContext>, liveRouter: Router<BasicWebSocketRequestContext>) -> some ApplicationProtocol {
        var logger = self.logger
        logger.logLevel = .warning
        let onListening = self.onListening
        return Application(
            router: router, server: .http1WebSocketUpgrade(webSocketRouter: liveRouter),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "imn-server"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) }, logger: logger)
    }
}
