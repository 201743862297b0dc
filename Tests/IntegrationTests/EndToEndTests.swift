import Agent
import DBOS
import Foundation
import IMNCore
import IMNTestSupport
import Logging
import NATSClient
import RedisClient
import Server
import Synchronization
import Testing

/// The whole path with real servers: REST → DBOS (Redis) → NATS → agent → JetStream → ingestion → DBOS.
@Suite(.enabled(if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable, "redis-server and nats-server are needed: run scripts/setup"))
struct EndToEndTests {
    /// What a test gets: the server's HTTP port, where NATS and DBOS are, and the server itself.
    struct Stack {
        var port: Int
        var natsURL: String
        var dbosAddress: String
        var server: IMNServer
        /// The redis-server under DBOS (to pause it).
        var redis: ServerProcess
    }

    /// Where the backends of a test run: NATS and DBOS.
    struct Backends {
        var natsURL: String
        var dbosAddress: String
        var redis: ServerProcess
    }

    /// Real redis-server and nats-server, DBOS and agent_1 in this process; stopped after `body`.
    static func withBackends(dbos configure: (inout DBOSServer.Configuration) -> Void = { _ in }, _ body: (Backends) async throws -> Void)
        async throws
    {
        try await withRedisServer { redis in
            try await withNATSServer { nats in
                var dbosConfiguration = DBOSServer.Configuration()
                dbosConfiguration.port = FreePort.next()
                dbosConfiguration.redis = try RedisConfiguration(url: redis.redisURL)
                configure(&dbosConfiguration)
                let dbos = DBOSServer(configuration: dbosConfiguration, logger: Logger(label: "e2e.dbos"))
                let state = FileManager.default.temporaryDirectory.appendingPathComponent("imn-e2e-\(UUID().uuidString)")
                defer { try? FileManager.default.removeItem(at: state) }
                var agentConfiguration = AgentConfiguration(name: "agent_1", stateDirectory: state)
                agentConfiguration.targetPolicy = .anything
                agentConfiguration.id = "agent_1"
                agentConfiguration.nats = NATSConfiguration(url: nats.natsURL)
                agentConfiguration.heartbeatInterval = .milliseconds(300)
                let agent = try AgentRuntime(configuration: agentConfiguration, modules: ModuleHost(BuiltInModules.all()), metrics: AgentMetrics())
                let dbosPort = ListeningPort()
                let tasks = Task {
                    try await withThrowingDiscardingTaskGroup { group in
                        group.addTask { try await dbos.run() }
                        group.addTask { try await agent.run() }
                        dbosPort.set(try await dbos.listeningPort())
                    }
                }
                #expect(await eventually { dbosPort.value != 0 })
                try await Self.finally(stopping: tasks) {
                    try await body(Backends(natsURL: nats.natsURL, dbosAddress: "127.0.0.1:\(dbosPort.value)", redis: redis))
                }
            }
        }
    }

    /// Runs `body`, then cancels `task` and waits for it to end, whether `body` threw or not, so
    /// that what the task runs has stopped before the servers under it do.
    static func finally(stopping task: Task<Void, any Error>, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            task.cancel()
            _ = await task.result
            throw error
        }
        task.cancel()
        _ = await task.result
    }

    /// The backends and a server in this process that has heard agent_1.
    static func withStack(
        heartbeatTimeout: Duration = .seconds(15), tokens: [APIToken] = [], stuckAfter: Duration = .seconds(600),
        _ body: (Stack) async throws -> Void
    ) async throws {
        try await withBackends { backends in
            var configuration = ServerConfiguration()
            configuration.builtInModules = BuiltInModules.all().map(\.spec)
            configuration.port = FreePort.next()
            configuration.nats = NATSConfiguration(url: backends.natsURL)
            configuration.dbosAddress = backends.dbosAddress
            configuration.serverID = "e2e-server"
            configuration.heartbeatTimeout = heartbeatTimeout
            configuration.tokens = tokens
            configuration.stuckAfter = stuckAfter
            let port = ListeningPort()
            let server = IMNServer(configuration: configuration, logger: Logger(label: "e2e.server")) { listening in port.set(listening) }
            let ended = ServerEnd()
            let serverTask = Task<Void, any Error> {
                do { try await server.run() } catch { ended.set("\(error)") }
                ended.set("returned")
            }
            try await Self.finally(stopping: serverTask) {
                // Generous: on a loaded two-core CI machine a dozen stacks start at once.
                _ = await eventually(timeout: .seconds(45)) { port.value != 0 || ended.value != nil }
                guard port.value != 0 else {
                    throw StackError(description: "the server did not listen within 45 s (run: \(ended.value ?? "still starting"))")
                }
                let httpPort = port.value
                // Wait until the server has heard agent_1.
                let reader = tokens.first { $0.scopes.contains(.read) }.map { ["Authorization": "Bearer \($0.token)"] } ?? [:]
                #expect(
                    await eventually(timeout: .seconds(45)) {
                        ((try? await HTTP.request("GET", port: httpPort, path: "/agents/agent_1", headers: reader))?.status) == 200
                    })
                try await body(
                    Stack(port: httpPort, natsURL: backends.natsURL, dbosAddress: backends.dbosAddress, server: server, redis: backends.redis))
            }
        }
    }

    /// `?wait` answers from the terminal message once JetStream holds it, DBOS's writes behind
    /// it: with Redis paused after the request was created, the `200` still comes; a read of the
    /// request right after waits for the writes and sees the result once Redis is back.
    @Test func waitAnswersFromJetStreamAndReadsWaitForTheWrites() async throws {
        try await Self.withStack { stack in
            let port = stack.port
            let posted = Task {
                try await HTTP.request(
                    "POST", port: port, path: "/agent/agent_1/faulty_module?wait=10", body: #"{"delay":0.6}"#,
                    headers: ["Idempotency-Key": "behind-redis"])
            }
            #expect(await eventually { (try? await HTTP.request("GET", port: port, path: "/modules/states/behind-redis"))?.status == 200 })
            stack.redis.pause()
            var resumed = false
            defer { if !resumed { stack.redis.resume() } }
            let answer = try await posted.value
            #expect(answer.status == 200 && answer.json?["state"] == "completed", "\(answer.status) \(answer.body.prefix(200))")
            let read = Task { try await HTTP.request("GET", port: port, path: "/agents/agent_1/results/behind-redis") }
            try await Task.sleep(for: .milliseconds(300))
            stack.redis.resume()
            resumed = true
            let result = try await read.value
            #expect(result.status == 200 && result.json?["state"] == "completed", "\(result.status) \(result.body.prefix(200))")
            let state = try await HTTP.request("GET", port: port, path: "/modules/states/behind-redis")
            #expect(state.json?["history"]?.arrayValue?.compactMap { $0["to"]?.stringValue } == ["created", "started", "running", "completed"])
        }
    }

    @Test func echoAndPingEndToEndWithIdempotencyAndErrors() async throws {
        try await Self.withStack { stack in
            let port = stack.port
            let echo = try await HTTP.request("POST", port: port, path: "/agent/agent_1/echo_module?wait=10", body: #"{"message":"hello e2e"}"#)
            #expect(echo.status == 200)
            #expect(echo.json?["state"] == "completed")
            #expect(echo.json?["result"]?["message"] == "hello e2e")
            // A `200` answers from JetStream with the DBOS writes behind it: a read right after it
            // waits for them and sees what the answer said.
            for index in 0..<10 {
                let id = "read-through-\(index)"
                let answer = try await HTTP.request(
                    "POST", port: port, path: "/agent/agent_1/echo_module?wait=10", body: #"{"message":"\#(id)"}"#, headers: ["Idempotency-Key": id])
                #expect(answer.status == 200 && answer.json?["state"] == "completed")
                let result = try await HTTP.request("GET", port: port, path: "/agents/agent_1/results/\(id)")
                #expect(result.status == 200 && result.json?["result"]?["message"] == .string(id), "\(result.status) \(result.body.prefix(200))")
                let state = try await HTTP.request("GET", port: port, path: "/modules/states/\(id)")
                #expect(state.json?["state"] == "completed", "\(state.body.prefix(200))")
            }

            let ping = try await HTTP.request(
                "POST", port: port, path: "/agent/agent_1/ping_module?wait=10", body: #"{"host":"127.0.0.1","count":3,"interval":0.05}"#)
            #expect(ping.json?["result"]?["received"] == 3)
            #expect((ping.json?["result"]?["avg_ms"]?.numberValue ?? -1) > 0)

            let first = try await HTTP.request(
                "POST", port: port, path: "/agent/agent_1/echo_module?wait=10", body: #"{"message":"once"}"#, headers: ["Idempotency-Key": "same-key"]
            )
            let second = try await HTTP.request(
                "POST", port: port, path: "/agent/agent_1/echo_module?wait=10", body: #"{"message":"once"}"#, headers: ["Idempotency-Key": "same-key"]
            )
            #expect(first.json?["id"] == "same-key")
            #expect(second.json?["id"] == "same-key")
            #expect(first.json?["result"]?["received_at_ms"] == second.json?["result"]?["received_at_ms"], "the module ran once")

            let stored = try await HTTP.request("GET", port: port, path: "/agents/agent_1/results/same-key")
            #expect(stored.status == 200)
            #expect(stored.json?["result"]?["message"] == "once")

            let invalid = try await HTTP.request("POST", port: port, path: "/agent/agent_1/ping_module", body: #"{"host":5,"count":1000}"#)
            #expect(invalid.status == 422)
            #expect(invalid.headers.lowercased().contains("content-type: application/problem+json"))
            #expect(Set(invalid.json?["errors"]?.arrayValue?.compactMap { $0["pointer"]?.stringValue } ?? []) == ["/host", "/count"])
            #expect(try await HTTP.request("POST", port: port, path: "/agent/nobody/echo_module", body: "{}").status == 404)
            #expect(try await HTTP.request("POST", port: port, path: "/agent/agent_1/no_module", body: "{}").status == 404)
            #expect(try await HTTP.request("POST", port: port, path: "/agent/agent_1/echo_module", body: "{not json").status == 400)
            let status = try await HTTP.request("GET", port: port, path: "/")
            #expect(status.json?["agents_alive"] == 1)
            let alive = try await HTTP.request("GET", port: port, path: "/agents/alive")
            #expect(alive.json?.arrayValue?.count == 1, "\(alive.status) \(alive.body.prefix(300))")
            #expect(try await HTTP.request("GET", port: port, path: "/agents/dead").json?.arrayValue?.count == 0)

            // Results of the agent, paged; one by module.
            let page = try await HTTP.request("GET", port: port, path: "/agents/agent_1/results?limit=2")
            #expect(page.json?["results"]?.arrayValue?.count == 2, "\(page.status) \(page.body.prefix(300))")
            let cursor = try #require(page.json?["next_cursor"]?.stringValue)
            let rest = try await HTTP.request("GET", port: port, path: "/agents/agent_1/results?limit=20&cursor=\(cursor)")
            #expect(rest.json?["results"]?.arrayValue?.count == 11, "13 results in all")
            let pings = try await HTTP.request("GET", port: port, path: "/agents/agent_1/results?module=ping_module")
            #expect(pings.json?["results"]?.arrayValue?.count == 1)
            #expect(try await HTTP.request("GET", port: port, path: "/agents/agent_1/results?limit=-1").status == 400)

            // The state with its history, as the ingestion applied it.
            let state = try await HTTP.request("GET", port: port, path: "/modules/states/same-key")
            #expect(state.json?["state"] == "completed")
            #expect(state.json?["history"]?.arrayValue?.compactMap { $0["to"]?.stringValue } == ["created", "started", "running", "completed"])

            #expect(try await HTTP.request("DELETE", port: port, path: "/agents/agent_1/results/same-key").status == 204)
            #expect(try await HTTP.request("GET", port: port, path: "/agents/agent_1/results/same-key").status == 404)
            let events = try await HTTP.request("GET", port: port, path: "/events?limit=500")
            let kinds = events.json?["events"]?.arrayValue?.compactMap { $0["kind"]?.stringValue } ?? []
            #expect(kinds.contains("agent.registered"))
            #expect(kinds.contains("result.stored"))
            #expect(kinds.contains("result.deleted"))
        }
    }
}

/// The test's view of an HTTP reply.
/// How a test's in-process server ended, if it did (for a clear failure when it never listened).
final class ServerEnd: Sendable {
    private let text = Mutex<String?>(nil)
    var value: String? { text.withLock { $0 } }
    func set(_ value: String) { text.withLock { $0 = $0 ?? value } }
}

struct StackError: Error, CustomStringConvertible {
    let description: String
}

enum HTTP {
    struct Reply {
        var status: Int
        var headers: String
        var body: String
        var json: JSONValue? { JSONValue(parsing: Array(body.utf8)) }
    }

    static func request(_ method: String, port: Int, path: String, body: String = "", headers: [String: String] = [:]) async throws -> Reply {
        let reply = try await LoopbackHTTP.request(method, port: port, path: path, body: body, headers: headers)
        return Reply(status: reply.status, headers: reply.head, body: reply.body)
    }

    /// An idempotent request (a POST with its id in the body) sent again, as a client would,
    /// while the answer is a 503 from a DBOS call that timed out: on a loaded two-core CI machine
    /// the in-process DBOS can be slower than the server's deadline.
    static func retryingTimeouts(_ method: String, port: Int, path: String, body: String = "") async throws -> Reply {
        var reply = try await request(method, port: port, path: path, body: body)
        for _ in 1..<5 where reply.status == 503 && reply.json?["detail"]?.stringValue?.contains("timed out") == true {
            try await Task.sleep(for: .seconds(1))
            reply = try await request(method, port: port, path: path, body: body)
        }
        return reply
    }
}
