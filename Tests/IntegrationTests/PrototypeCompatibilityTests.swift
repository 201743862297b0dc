import Foundation
import IMNCore
import IMNTestSupport
import Testing

/// Coming from the earlier prototype: `imn dbos`, `imn server` and `imn agent` configured by the
/// prototype's environment names alone (no flags), then sent its README's example bodies.
@Suite(
    .enabled(
        if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable && ServerBinaries.imn != nil,
        "redis-server, nats-server and the built imn binary are needed: run scripts/test"))
struct PrototypeCompatibilityTests {
    static func process(_ name: String, port: Int, arguments: [String], environment: [String: String]) throws -> ServerProcess {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-prototype-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // The test runner's own IMN_* settings must not decide what the aliases are tested for.
        let cleared = ["IMN_NATS_URL", "IMN_REDIS_URL", "IMN_DBOS_ADDRESS", "IMN_AGENT_NAME", "IMN_PORT"].reduce(into: [String: String]()) {
            $0[$1] = ""
        }
        return ServerProcess(
            name: name, executable: IMNProcesses.binary, port: port, directory: directory, arguments: arguments,
            environment: cleared.merging(environment) { $1 })
    }

    @Test func prototypeEnvironmentNamesAndBodies() async throws {
        try await withRedisServer { redis in
            try await withNATSServer { nats in
                let (dbosPort, serverPort, agentPort) = (FreePort.next(), FreePort.next(), FreePort.next())
                let dbos = try Self.process(
                    "dbos", port: dbosPort, arguments: ["dbos", "--log-level", "warning"],
                    environment: ["REDIS_ADDR": "127.0.0.1:1", "REDIS_PORT": "\(redis.port)", "PORT": "\(dbosPort)"])
                let server = try Self.process(
                    "server", port: serverPort, arguments: ["server", "--log-level", "warning"],
                    environment: ["PORT": "\(serverPort)", "DBOS_ADDRESS": "127.0.0.1:\(dbosPort)", "NATS_URL": #"["\#(nats.natsURL)"]"#])
                let agent = try Self.process(
                    "agent", port: agentPort,
                    arguments: [
                        "agent", "--id", "proto_1", "--metrics-port", "\(agentPort)", "--heartbeat-interval", "0.3", "--log-level", "warning",
                    ],
                    environment: ["AGENT_NAME": "aiori_1", "NATS_URL": nats.natsURL])
                try await withServer(dbos) { _ in
                    try await withServer(server) { server in
                        try await withServer(agent) { _ in
                            try await Self.checkBodies(server.port)
                        }
                    }
                }
            }
        }
    }

    static func checkBodies(_ port: Int) async throws {
        // The agent's name came from AGENT_NAME; it reached this server over NATS_URL.
        #expect(await eventually { (try? await HTTP.request("GET", port: port, path: "/agents/proto_1"))?.json?["name"] == "aiori_1" })
        // Through DBOS_ADDRESS (and DBOS's REDIS_ADDR with REDIS_PORT): ready.
        #expect(await eventually { (try? await HTTP.request("GET", port: port, path: "/ready"))?.status == 200 })

        func post(_ module: String, _ body: String) async throws -> HTTP.Reply {
            try await HTTP.request("POST", port: port, path: "/agent/proto_1/\(module)?wait=10", body: body)
        }
        let normal = try await post("faulty_module", #"{"message": "Normal Test"}"#)
        #expect(normal.status == 200 && normal.json?["state"] == "completed", "\(normal.body)")
        #expect(normal.json?["result"]?["message"] == "Normal Test", "\(normal.body)")
        let delayed = try await post("faulty_module", #"{"message": "Delay Test", "delay": 1}"#)
        #expect(delayed.json?["result"]?["delayed_seconds"] == 1, "\(delayed.body)")
        let crashed = try await post("faulty_module", #"{"message": "Error Test", "crash": true}"#)
        #expect(crashed.json?["state"] == "failed", "\(crashed.body)")

        let echo = try await post("echo_module", #"{"message": "test message", "id": "echo-test-123"}"#)
        #expect(echo.json?["id"] == "echo-test-123" && echo.json?["result"]?["message"] == "test message", "\(echo.body)")
        let state = try await HTTP.request("GET", port: port, path: "/modules/states/echo-test-123")
        #expect(state.json?["state"] == "completed", "\(state.body)")

        // An older body: refused, and the 422 says what changed.
        let target = try await post("ping_module", #"{"target": "google.com", "count": 4, "port": 80, "request_id": "test-123"}"#)
        #expect(target.status == 422, "\(target.body)")
        let messages = (target.json?["errors"]?.arrayValue ?? []).compactMap { $0["detail"]?.stringValue }.joined(separator: "\n")
        #expect(messages.contains("`target` is `host` now"), "\(target.body)")
        #expect(messages.contains("tcping"), "\(target.body)")
        #expect(messages.contains("`id` in the body"), "\(target.body)")
    }
}
