import CoreMetrics
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import RedisClient
import ServiceLifecycle

/// `imn dbos`: the gRPC server with the DBOS and health services over one Redis.
/// It starts even when Redis is down (health NOT_SERVING until Redis answers) and stops
/// gracefully: in-flight calls finish, then the Redis connections close.
public final class DBOSServer: Service {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        /// 0 picks a free port (tests); see ``listeningPort()``.
        public var port = 50051
        public var redis = RedisConfiguration()
        public var store = DBOSStoreConfiguration()
        /// How often Redis is pinged for the health status.
        public var healthInterval: Duration = .seconds(1)
        /// How often the retention sweep runs (``DBOSStore/sweep(limit:)``) and the stored counts
        /// are recorded (`imn_dbos_stored_items`, `imn_dbos_redis_memory_bytes`).
        public var sweepInterval: Duration = .seconds(60)
        /// TLS on the gRPC port; nil is plaintext.
        public var tls: DBOSTLS.Server?
        /// Where the per-call metrics go (`imn_dbos_rpcs_total`, `imn_dbos_rpc_duration_seconds`);
        /// nil records none.
        public var metrics: (any MetricsFactory)?

        public init() {}
    }

    public let configuration: Configuration
    private let redis: RedisClient
    private let probe: RedisClient
    private let health = HealthService()
    private let service: DBOSService
    private let store: DBOSStore
    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    private let transport: HTTP2ServerTransport.Posix
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger = Logger(label: "imn.dbos")) {
        self.configuration = configuration
        self.logger = logger
        redis = RedisClient(configuration: configuration.redis, logger: logger)
        var probeConfiguration = configuration.redis
        probeConfiguration.poolSize = 1
        probeConfiguration.connectWait = .milliseconds(500)
        probeConfiguration.connectTimeout = .milliseconds(500)
        probeConfiguration.commandTimeout = .seconds(1)
        probe = RedisClient(configuration: probeConfiguration, logger: logger)
        let store = DBOSStore(redis: redis, configuration: configuration.store, logger: logger)
        self.store = store
        let service = DBOSService(store: store, logger: logger)
        self.service = service
        transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: configuration.host, port: configuration.port), transportSecurity: configuration.tls?.transportSecurity ?? .plaintext,
            // Every flush goes out at once (the default holds each up to 100 µs to coalesce writes).
            config: .defaults { $0.connection.flushCoalescing = nil })
        server = GRPCServer(
            transport: transport, services: [service, health],
            interceptors: [ServerTracingInterceptor()] + (configuration.metrics.map { [ServerMetricsInterceptor(factory: $0)] } ?? []))
    }

    /// The port the server listens on, once it does.
    public func listeningPort() async throws -> Int {
        let address = try await transport.listeningAddress
        if let ipv4 = address.ipv4 { return ipv4.port }
        if let ipv6 = address.ipv6 { return ipv6.port }
        throw RPCError(code: .internalError, message: "DBOS is not listening on an IP address")
    }

    public var isServing: Bool { health.isServing }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await self.monitorRedis() }
                group.addTask { await self.sweepRetention() }
                group.addTask {
                    let port = try await self.listeningPort()
                    self.logger.info(
                        "dbos listening",
                        metadata: ["address": "\(self.configuration.host):\(port)", "redis": "\(self.configuration.redis.endpointDescription)"])
                }
                // serve() returns after a graceful shutdown; the monitor ends with the group.
                try await self.server.serve()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.server.beginGracefulShutdown()
            self.service.endStreams()
        }
        await redis.close()
        await probe.close()
        logger.info("dbos stopped")
    }

    /// Every `sweepInterval`: the retention sweep, in bounded batches until one finds less than
    /// half a batch, then the stored counts and Redis's memory as gauges. A failure (Redis down)
    /// waits for the next round.
    private func sweepRetention() async {
        let batch = 500
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.sweepInterval)
            guard health.isServing, !Task.isCancelled else { continue }
            do {
                var total = DBOSStore.Swept()
                var swept: DBOSStore.Swept
                repeat {
                    swept = try await store.sweep(limit: batch)
                    total.measurements += swept.measurements
                    total.states += swept.states
                    total.results += swept.results
                } while swept.measurements + swept.states > batch / 2 && !Task.isCancelled
                if total.measurements + total.states + total.results > 0 {
                    logger.info(
                        "retention swept",
                        metadata: ["measurements": "\(total.measurements)", "states": "\(total.states)", "results": "\(total.results)"])
                }
                guard let factory = configuration.metrics else { continue }
                let stored = try await store.storedCounts()
                Gauge(label: "imn_dbos_stored_items", dimensions: [("kind", "measurements")], factory: factory).record(stored.measurements)
                Gauge(label: "imn_dbos_stored_items", dimensions: [("kind", "states")], factory: factory).record(stored.states)
                Gauge(label: "imn_dbos_redis_memory_bytes", dimensions: [("kind", "used")], factory: factory).record(stored.usedMemory)
                Gauge(label: "imn_dbos_redis_memory_bytes", dimensions: [("kind", "max")], factory: factory).record(stored.maxMemory)
                for (kind, count) in [("measurements", total.measurements), ("states", total.states), ("results", total.results)] {
                    Counter(label: "imn_dbos_retention_removed_total", dimensions: [("kind", kind)], factory: factory).increment(by: count)
                }
            } catch {
                logger.warning("retention sweep failed; next round in \(configuration.sweepInterval)", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Pings Redis on the probe connection and flips the health status.
    private func monitorRedis() async {
        var wasServing: Bool?
        while !Task.isCancelled {
            let serving = (try? await probe.send("PING")) == .status("PONG")
            health.setServing(serving)
            if serving != wasServing {
                if serving {
                    logger.info("redis reachable: serving", metadata: ["redis": "\(configuration.redis.endpointDescription)"])
                } else {
                    logger.warning("redis unreachable: not serving", metadata: ["redis": "\(configuration.redis.endpointDescription)"])
                }
                wasServing = serving
            }
            try? await Task.sleep(for: configuration.healthInterval)
        }
    }
}
