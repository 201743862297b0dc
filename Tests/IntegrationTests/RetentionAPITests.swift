import DBOS
import Foundation
import IMNCore
import IMNTestSupport
import RedisClient
import Testing

/// Retention and a full Redis as a REST user meets them: a measurement older than the retention
/// is gone from the API after DBOS's sweep; a Redis at `maxmemory` makes a new measurement a 503
/// that says so, with nothing half-written, and measuring works again once there is room.
@Suite(
    .enabled(
        if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable && ServerBinaries.imn != nil,
        "redis-server, nats-server and the built imn binary are needed: run scripts/test"))
struct RetentionAPITests {
    static func post(_ port: Int, _ body: String) async throws -> HTTP.Reply {
        try await HTTP.retryingTimeouts("POST", port: port, path: "/agent/agent_1/echo_module?wait=5", body: body)
    }

    @Test func sweptMeasurementsLeaveTheAPIAndAFullRedisIsA503() async throws {
        try await EndToEndTests.withBackends(dbos: {
            $0.store.retentionSeconds = 2
            $0.sweepInterval = .milliseconds(300)
        }) { backends in
            try await withServer(try ServerProcessTests.serverProcess("server-retention", backends)) { server in
                #expect(await ServerProcessTests.heardAgent(server))
                let echo = try await Self.post(server.port, #"{"message":"keep me 2 s","id":"short-lived"}"#)
                #expect(echo.status == 200, "\(echo.body)")
                #expect(
                    await eventually(timeout: .seconds(30)) {
                        (try? await HTTP.request("GET", port: server.port, path: "/measurements/short-lived"))?.status == 404
                    }, "swept after its 2 s")
                // The result goes in the same sweep — or, when ingestion stored it only after that
                // sweep (a loaded machine: `?wait` answered before the DBOS write), in the next one.
                #expect(
                    await eventually(timeout: .seconds(10)) {
                        (try? await HTTP.request("GET", port: server.port, path: "/agents/agent_1/results/short-lived"))?.status == 404
                    })

                // Redis full: CONFIG SET maxmemory below what it uses.
                let redis = RedisClient(configuration: try RedisConfiguration(url: backends.redis.redisURL))
                _ = try await redis.send(RedisCommand("CONFIG", "SET", "maxmemory", "1"))
                let refused = try await Self.post(server.port, #"{"message":"no room","id":"no-room"}"#)
                #expect(refused.status == 503, "\(refused.body)")
                #expect(refused.json?["detail"]?.stringValue?.contains("maxmemory") == true, "\(refused.body)")
                _ = try await redis.send(RedisCommand("CONFIG", "SET", "maxmemory", "0"))
                await redis.close()
                #expect(try await HTTP.request("GET", port: server.port, path: "/measurements/no-room").status == 404, "nothing half-written")
                let again = try await Self.post(server.port, #"{"message":"room again","id":"no-room"}"#)
                #expect(again.status == 200 && again.json?["result"]?["message"] == "room again", "\(again.body)")
            }
        }
    }
}
