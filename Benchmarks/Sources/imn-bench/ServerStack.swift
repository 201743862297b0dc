import Foundation
import IMNTestSupport

/// What `withServerStack` started: release `imn dbos` and `imn server` over real redis-server and
/// nats-server, telemetry off.
struct ServerStack {
    var redis: ServerProcess
    var nats: ServerProcess
    var dbos: ServerProcess
    var server: ServerProcess
    var httpPort: Int
    var dbosPort: Int
}

/// Runs `body` with a server stack in a temporary folder; every process is stopped after it, even
/// when it throws.
func withServerStack(appendfsync: String, imn: String, name: String, _ body: (ServerStack) async throws -> Void) async throws {
    try await withRedisServer(appendfsync: appendfsync) { redis in
        try await withNATSServer { nats in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-bench-\(name)-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let dbosPort = FreePort.next()
            let httpPort = FreePort.next()
            let quiet = ["OTEL_SDK_DISABLED": "true"]
            let dbos = IMNProcesses.dbos(port: dbosPort, redisURL: redis.redisURL, directory: directory, environment: quiet, imn: imn)
            let server = IMNProcesses.server(
                port: httpPort, natsURL: nats.natsURL, dbosAddress: "127.0.0.1:\(dbosPort)", directory: directory, environment: quiet, imn: imn)
            try await withServer(dbos) { dbos in
                try await withServer(server) { server in
                    try await body(ServerStack(redis: redis, nats: nats, dbos: dbos, server: server, httpPort: httpPort, dbosPort: dbosPort))
                }
            }
        }
    }
}
