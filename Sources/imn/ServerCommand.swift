import Agent
import Archive
import ArgumentParser
import CommandLineSupport
import DBOS
import Foundation
import Logging
import NATSClient
import Server

/// `imn server`: the REST API.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the IMN server: REST API, agent registry from heartbeats, result ingestion into DBOS.",
        discussion: """
            The REST API on --port (default 8000): agents (GET /agents, /agents/alive, /agents/dead, \
            /agents/{agent_id}), measurements (POST /agent/{agent_id}/{module}[?wait=seconds], \
            Idempotency-Key honoured), results, module states, schedules (POST/GET/DELETE /schedules), \
            module control (POST /agents/{agent_id}/modules/{module}/enable|disable|reload), the audit log \
            (GET /events), history from the ClickHouse archive (GET /history, with --clickhouse-url), GET /health, /ready and /metrics (Prometheus). The complete description is at \
            GET /openapi.json (OpenAPI 3.1) and, rendered, at GET /docs. Errors are application/problem+json.

            Several servers may share one NATS and DBOS: they share result ingestion and the schedules, \
            and each scheduled run happens once. Give each a distinct --server-id.

            Telemetry: traces, metrics and logs go over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT \
            (default http://localhost:4318) as service imn-server; OTEL_SDK_DISABLED=true turns it off. With \
            no collector listening, exports are dropped and counted; nothing waits for them.
            """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "HTTP port (env: IMN_PORT or PORT; default 8000).") var port: Int?
    @Option(help: "NATS server URLs, comma-separated (env: IMN_NATS_URL or NATS_URL).") var natsURL: String?
    @Option(help: "DBOS gRPC address host:port (env: IMN_DBOS_ADDRESS or DBOS_ADDRESS; default 127.0.0.1:50051).")
    var dbosAddress: String?
    @Flag(help: "Reach DBOS over TLS, trusting the system's roots (env IMN_DBOS_TLS=true).") var dbosTLS = false
    @Option(name: .customLong("dbos-tls-ca"), help: "Reach DBOS over TLS, trusting this PEM CA file only (env IMN_DBOS_TLS_CA).")
    var dbosTLSCA: String?
    @Option(help: "Seconds without a heartbeat after which an agent counts as dead.") var heartbeatTimeout = 15.0
    @Option(help: "Seconds after which a request with no result is failed (its agent or server stopped mid-request).")
    var stuckAfter = 600.0
    @Option(help: "Name of this server in the audit log and NATS (default: server-<hostname>).") var serverID: String?
    @Option(
        help: """
            JSON file of REST tokens: [{"name": …, "token": …, "scopes": ["read","write"], "rate_per_second": 20, \
            "max_concurrent_measurements": 8}] (env IMN_API_TOKENS: name:token:read+write[:rate[:concurrent]],…; rate and \
            concurrency optional). Without tokens the API is open.
            """)
    var tokensFile: String?
    @Option(
        name: .customLong("clickhouse-url"),
        help: """
            Archive every terminal result in ClickHouse, over its HTTP interface, and answer GET /history from it: \
            http://[user:password@]host:8123 (env IMN_CLICKHOUSE_URL). Off when not given.
            """)
    var clickHouseURL: String?
    @Option(
        name: .customLong("clickhouse-database"),
        help: "The archive's ClickHouse database, made when missing (env IMN_CLICKHOUSE_DATABASE; default imn).")
    var clickHouseDatabase: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: Logger.Level = .info

    /// The archive's configuration: flags first, then the environment; nil when off.
    var archive: ResultArchiver.Configuration? {
        let environment = ProcessInfo.processInfo.environment
        guard let url = clickHouseURL ?? environment["IMN_CLICKHOUSE_URL"], !url.isEmpty else { return nil }
        var archive = ResultArchiver.Configuration(url: url)
        archive.database = clickHouseDatabase ?? environment["IMN_CLICKHOUSE_DATABASE"] ?? "imn"
        return archive
    }

    func validate() throws {
        if let archive {
            do {
                _ = try ClickHouseClient(url: archive.url, database: archive.database)
            } catch {
                throw ValidationError("--clickhouse-url/--clickhouse-database: \(error)")
            }
        }
        guard (0...65535).contains(try EnvironmentSettings().port(port, default: 8000)) else { throw ValidationError("--port must be 0–65535") }
        guard heartbeatTimeout > 0 else { throw ValidationError("--heartbeat-timeout must be positive") }
        guard stuckAfter >= 1 else { throw ValidationError("--stuck-after must be at least 1 second") }
        if let ca = dbosTLSCA ?? ProcessInfo.processInfo.environment["IMN_DBOS_TLS_CA"], !FileManager.default.isReadableFile(atPath: ca) {
            throw ValidationError("--dbos-tls-ca: cannot read \(ca)")
        }
    }

    func run() async throws {
        let telemetry = try ServiceRunner.telemetry(service: "imn-server", instanceID: serverID, level: logLevel)
        let logger = Logger(label: "imn.server")
        var configuration = ServerConfiguration()
        configuration.builtInModules = BuiltInModules.all().map(\.spec)
        configuration.host = host
        let settings = EnvironmentSettings()
        configuration.port = try EnvironmentSettings().port(port, default: 8000)
        configuration.nats = NATSConfiguration(url: natsURL ?? settings.natsURL ?? NATSConfiguration.localURL)
        configuration.dbosAddress = dbosAddress ?? settings.dbosAddress ?? "127.0.0.1:50051"
        let environment = ProcessInfo.processInfo.environment
        if let ca = dbosTLSCA ?? environment["IMN_DBOS_TLS_CA"] {
            configuration.dbosTLS = DBOSTLS.Client(trustRootsPath: ca)
        } else if dbosTLS || environment["IMN_DBOS_TLS"] == "true" {
            configuration.dbosTLS = DBOSTLS.Client()
        }
        configuration.heartbeatTimeout = .milliseconds(Int64(heartbeatTimeout * 1000))
        configuration.stuckAfter = .milliseconds(Int64(stuckAfter * 1000))
        if let serverID { configuration.serverID = serverID }
        configuration.archive = archive
        if telemetry.enabled { configuration.additionalMetrics = telemetry.metrics }
        configuration.additionalExposition = { telemetry.prometheusText() }
        do {
            if let tokensFile {
                configuration.tokens = try APIToken.load(file: tokensFile)
            } else if let text = ProcessInfo.processInfo.environment["IMN_API_TOKENS"], !text.isEmpty {
                configuration.tokens = try APIToken.parse(environment: text)
            }
        } catch {
            throw ValidationError("REST tokens: \(error)")
        }
        if configuration.tokens.isEmpty {
            logger.notice("no REST tokens configured: the API is open", metadata: ["host": "\(host)"])
        }
        let server = IMNServer(configuration: configuration, logger: logger) { port in logger.info("server listening", metadata: ["port": "\(port)"])
        }
        try await ServiceRunner.run([server], telemetry: telemetry, logger: logger)
    }
}
