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
