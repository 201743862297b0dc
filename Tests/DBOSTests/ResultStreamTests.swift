import DBOS
import Foundation
import GRPCCore
import IMNTestSupport
import Logging
import RedisClient
import ServiceLifecycle
import Testing

/// StoreResultStream over a real loopback port: every caller gets the outcome its own StoreResult
/// would have had, one id is stored once however many callers race, and a stream broken by a
/// DBOS restart is reopened with nothing lost.
@Suite(.enabled(if: ServerBinaries.redisAvailable, "redis-server is not installed: run scripts/setup"))
struct ResultStreamTests {
    @Test func everyCallerGetsItsOwnOutcomeAndAnIDIsStoredOnce() async throws {
        try await withRedisServer { redis in
            try await withDBOS(redis: redis, configure: { $0.store.maxPayloadBytes = 2048 }) { client, _ in
                // 300 callers at once: 200 distinct ids and 100 stores of one id.
                let duplicates = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                    for n in 0..<300 {
                        group.addTask {
                            let id = n < 200 ? "rs-\(n)" : "rs-same"
                            let reply = try await client.storeResultStreamed(.make(id, payload: #"{"n":\#(n)}"#))
                            #expect(reply.result.requestID == id)
                            if n < 200 { #expect(reply.result.payload == Data(#"{"n":\#(n)}"#.utf8)) }
                            return (id, reply.duplicate)
                        }
                    }
                    return try await group.reduce(into: [String: [Bool]]()) { $0[$1.0, default: []].append($1.1) }
                }
                #expect(duplicates.count == 201)
                #expect(duplicates.filter { $0.key != "rs-same" }.allSatisfy { $0.value == [false] })
                #expect(duplicates["rs-same"]?.filter { !$0 }.count == 1, "exactly one store of the raced id is not a duplicate")
                var list = Imn_Dbos_V1_ListResultsRequest()
                list.agentID = "agent_1"
                var stored: [String] = []
                repeat {
                    let page = try await client.listResults(list)
                    stored += page.results.map(\.requestID)
                    list.cursor = page.nextCursor
                } while !list.cursor.isEmpty
                #expect(stored.count == 201 && Set(stored).count == 201)

                // Bad input is the single call's INVALID_ARGUMENT, and the stream goes on.
                #expect(await rpcCode { _ = try await client.storeResultStreamed(.make("")) } == .invalidArgument)
                #expect(
                    await rpcCode { _ = try await client.storeResultStreamed(.make("big", payload: String(repeating: "x", count: 4096))) }
                        == .invalidArgument)
                #expect(await rpcCode { _ = try await client.storeResultStreamed(.make("odd", status: "running")) } == .invalidArgument)
                #expect(try await client.storeResultStreamed(.make("after-errors")).duplicate == false)
            }
        }
    }

    @Test(.timeLimit(.minutes(2))) func aStreamBrokenByADBOSRestartIsReopened() async throws {
        try await withRedisServer { redis in
            let port = FreePort.next()
            var configuration = DBOSServer.Configuration()
            configuration.port = port
            configuration.redis = try RedisConfiguration(url: redis.redisURL)
            let client = try DBOSClient(address: "127.0.0.1:\(port)", timeout: .seconds(20))
            // A second client with a short deadline, for the call made while DBOS is down.
            let impatient = try DBOSClient(address: "127.0.0.1:\(port)", timeout: .seconds(2))
            let connections = Task { try await client.run() }
            let impatientConnections = Task { try await impatient.run() }
            defer {
                client.close()
                impatient.close()
                connections.cancel()
                impatientConnections.cancel()
            }
            // First DBOS: a stream opens; its graceful shutdown must not wait for the client.
            let first = try await Self.run(configuration) {
                let reply = try await client.storeResultStreamed(.make("before"))
                #expect(reply.duplicate == false)
            }
            #expect(first < .seconds(10), "the open stream held DBOS's shutdown for \(first)")
            // While DBOS is down: a clear error by the call's deadline, nothing hangs.
            let whileDown = await rpcCode { _ = try await impatient.storeResultStreamed(.make("while-down")) }
            #expect(whileDown == .deadlineExceeded || whileDown == .unavailable)
            // Second DBOS on the same port: a new stream; the first id is still a duplicate.
            _ = try await Self.run(configuration) {
                let again = try await client.storeResultStreamed(.make("before"))
                let after = try await client.storeResultStreamed(.make("after"))
                #expect(again.duplicate == true)
                #expect(after.duplicate == false)
            }
        }
    }

    /// Runs DBOS, then `body`, then a graceful shutdown; returns how long the shutdown took.
    static func run(_ configuration: DBOSServer.Configuration, _ body: () async throws -> Void) async throws -> Duration {
        let server = DBOSServer(configuration: configuration, logger: Logger(label: "test.dbos"))
        let group = ServiceGroup(services: [server], logger: Logger(label: "test.group"))
        let running = Task { try await group.run() }
        do {
            _ = try await server.listeningPort()
            try await body()
        } catch {
            running.cancel()
            throw error
        }
        let clock = ContinuousClock()
        let start = clock.now
        await group.triggerGracefulShutdown()
        try await running.value
        return clock.now - start
    }
}
