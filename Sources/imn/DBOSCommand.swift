import ArgumentParser
import CommandLineSupport
import DBOS
import Foundation
import Logging
import RedisClient
import ServiceLifecycle

/// `imn dbos`: the durable state service.
struct DBOSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dbos",
        abstract: "Run DBOS, IMN's durable state service (gRPC; agents, states, results, tasks, audit log in Redis).",
        discussion: """
            Serves imn.dbos.v1.DBOS and grpc.health.v1.Health. Starts even when Redis is down and \
            reports NOT_SERVING until Redis answers. SIGINT/SIGTERM stop it gracefully.

            Telemetry: traces, metrics and logs go over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT \
            (default http://localhost:4318) as service imn-dbos; OTEL_SDK_DISABLED=true turns it off. With \
            no collector listening, exports are dropped and counted; nothing waits for them.
            """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "gRPC port (env: IMN_PORT or PORT; default 50051).") var port: Int?
    @Option(help: "Redis, redis://[user:password@]host:port/db (env: IMN_REDIS_URL or REDIS_ADDR; default redis://127.0.0.1:6379).")
    var redisURL: String?
    @Option(help: "Prefix of every Redis key.") var keyPrefix = "imn:"
    @Option(help: "Largest result payload accepted, in bytes.") var maxPayloadBytes = 1024 * 1024
    @Option(help: "How long a result's request id blocks a second store, in seconds.") var idempotencyWindow = 24 * 3600
    @Option(help: "Approximate length of the audit log stream.") var maxEvents = 100_000
    @Option(
        help: """
            Days after their creation that ended measurements, their states and results are removed (fractions allowed, \
            e.g. 0.5; 0 keeps everything for ever). Swept every minute on the Redis clock; nothing still running is touched.
            """)
    var retentionDays = 7.0
    @Option(help: "Seconds between retention sweeps (which also record the stored counts on /metrics).") var sweepInterval = 60.0
    @Option(help: "Name of this DBOS process in result metadata (default: dbos-<hostname>).") var serverID: String?
    @Option(help: "PEM certificate chain for TLS on the gRPC port (with --tls-key; env IMN_DBOS_TLS_CERT).") var tlsCert: String?
    @Option(help: "PEM private key for TLS (env IMN_DBOS_TLS_KEY). Without both, DBOS speaks plaintext.") var tlsKey: String?
    @Option(help: "Address of /metrics and /health (with --metrics-port).") var metricsHost = "127.0.0.1"
    @Option(help: "Port of /metrics (Prometheus) and /health; without it DBOS serves no HTTP.") var metricsPort: Int?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: Logger.Level = .info

    /// The TLS files from the options or the environment; both or neither, each readable.
    var tls: DBOSTLS.Server? {
        get throws {
            let environment = ProcessInfo.processInfo.environment
            let cert = tlsCert ?? environment["IMN_DBOS_TLS_CERT"]
            let key = tlsKey ?? environment["IMN_DBOS_TLS_KEY"]
            switch (cert, key) {
            case (nil, nil): return nil
            case (let cert?, let key?):
                for file in [cert, key] where !FileManager.default.isReadableFile(atPath: file) {
                    throw ValidationError("cannot read \(file)")
                }
                return DBOSTLS.Server(certificateChainPath: cert, privateKeyPath: key)
            default: throw ValidationError("--tls-cert and --tls-key go together")
            }
        }
    }

    func validate() throws {
        guard (0...65535).contains(try EnvironmentSettings().port(port, default: 50051)) else { throw ValidationError("--port must be 0–65535") }
        _ = try tls
        guard maxPayloadBytes > 0 else { throw ValidationError("--max-payload-bytes must be positive") }
        guard idempotencyWindow > 0 else { throw ValidationError("--idempotency-window must be positive") }
        if let metricsPort, !(0...65535).contains(metricsPort) { throw ValidationError("--metrics-port must be 0–65535") }
        guard retentionDays >= 0, retentionDays <= 36500 else { throw ValidationError("--retention-days must be 0 (for ever) to 36500") }
        guard sweepInterval >= 0.1 else { throw ValidationError("--sweep-interval must be at least 0.1 s") }
    }

    func run() async throws {
        let telemetry = try ServiceRunner.telemetry(service: "imn-dbos", instanceID: serverID, level: logLevel)
        let logger = Logger(label: "imn.dbos")
        var configuration = DBOSServer.Configuration()
        configuration.host = host
        configuration.port = try EnvironmentSettings().port(port, default: 50051)
        do {
            configuration.redis = try RedisConfiguration(url: redisURL ?? EnvironmentSettings().redisURL ?? "redis://127.0.0.1:6379")
        } catch {
            throw ValidationError("\(error.message)")
        }
        configuration.redis.poolSize = 8
        configuration.store.keyPrefix = keyPrefix
        configuration.store.maxPayloadBytes = maxPayloadBytes
        configuration.store.idempotencyWindowSeconds = idempotencyWindow
        configuration.store.maxEvents = maxEvents
        configuration.store.retentionSeconds = Int((retentionDays * 86400).rounded())
        configuration.sweepInterval = .milliseconds(Int64(sweepInterval * 1000))
        configuration.store.serverID = serverID ?? "dbos-\(ProcessInfo.processInfo.hostName)"
        let endpoint = MetricsEndpoint(service: "imn-dbos", also: telemetry.enabled ? telemetry.metrics : nil, extra: { telemetry.prometheusText() })
        configuration.metrics = metricsPort == nil ? (telemetry.enabled ? telemetry.metrics : nil) : endpoint.factory
        configuration.tls = try tls
        let server = DBOSServer(configuration: configuration, logger: logger)
        var services: [any Service] = [server]
        if let metricsPort { services.append(try endpoint.httpService(host: metricsHost, port: metricsPort)) }
        try await ServiceRunner.run(services, telemetry: telemetry, logger: logger)
    }
}
