import ArgumentParser
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
            Routes: GET / and /status, GET /health, GET /agents, /agents/alive, /agents/dead, \
            /agents/{agent_id}; POST /agent/{agent_id}/{module}[?wait=seconds] (Idempotency-Key header \
            honoured); GET /agents/{agent_id}/results[?limit&cursor&since&until&module]; GET and DELETE \
            /agents/{agent_id}/results/{request_id}; GET /modules/states/{request_id}; GET /events. \
            Errors are application/problem+json.
            """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "HTTP port.") var port = 8000
    @Option(help: "NATS server URLs, comma-separated (env: IMN_NATS_URL).") var natsURL: String?
    @Option(help: "DBOS gRPC address host:port.") var dbosAddress = "127.0.0.1:50051"
    @Option(help: "Seconds without a heartbeat after which an agent counts as dead.") var heartbeatTimeout = 15.0
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: Logger.Level = .info

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0–65535") }
        guard heartbeatTimeout > 0 else { throw ValidationError("--heartbeat-timeout must be positive") }
    }

    func run() async throws {
        ServiceRunner.bootstrapLogging(logLevel)
        let logger = Logger(label: "imn.server")
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.nats = NATSConfiguration(url: natsURL ?? ProcessInfo.processInfo.environment["IMN_NATS_URL"] ?? "nats://127.0.0.1:4222")
        configuration.dbosAddress = dbosAddress
        configuration.heartbeatTimeout = .milliseconds(Int64(heartbeatTimeout * 1000))
        let server = IMNServer(configuration: configuration, logger: logger) { port in logger.info("server listening", metadata: ["port": "\(port)"])
        }
        try await ServiceRunner.run([server], logger: logger)
    }
}
