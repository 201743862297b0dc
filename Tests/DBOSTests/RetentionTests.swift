import DBOS
import Foundation
import IMNTestSupport
import RedisClient
import Testing

/// Retention against a real Redis: what has ended and is older than the retention age goes with
/// all its keys and index entries, on the Redis clock; nothing still running, nothing younger, and
/// no idempotency marker. A full Redis (`maxmemory`) refuses writes whole, as resourceExhausted.
@Suite(.enabled(if: ServerBinaries.redisAvailable, "redis-server is not installed: run scripts/setup"))
struct RetentionTests {
    static func keys(_ server: ServerProcess) async throws -> Set<String> {
        let redis = RedisClient(configuration: try RedisConfiguration(url: server.redisURL))
        defer { Task { await redis.close() } }
        let reply = try await redis.send(RedisCommand("KEYS", "imn:*"))
        return Set((reply.array ?? []).compactMap(\.text))
    }

    static func members(_ server: ServerProcess, _ key: String) async throws -> [String] {
        let redis = RedisClient(configuration: try RedisConfiguration(url: server.redisURL))
        defer { Task { await redis.close() } }
        return (try await redis.send(RedisCommand("ZRANGE", RedisArgument(key), "0", "-1")).array ?? []).compactMap(\.text)
    }

    static func finish(_ store: DBOSStore, _ request: String, agent: String, to end: ModuleStateName = .completed) async throws {
        var version: Int64 = 1
        for state in [ModuleStateName.started, .running, end] {
            _ = try await store.setModuleState(
                requestID: request, agentID: agent, module: "ping_module", state: state, expectedVersion: version, actor: "t")
            version += 1
        }
    }

    @Test func endedMeasurementsOlderThanTheRetentionGoWholeAndNothingElse() async throws {
        try await withStore(configure: { $0.retentionSeconds = 2 }) { store, server in
            // m-old: one run ends, one still runs. An untracked request that ended, one that runs.
            _ = try await store.createMeasurement(MeasurementStoreTests.record("m-old", agents: ["a", "b"]), deadline: nil, actor: "t")
            try await Self.finish(store, "m-old~a", agent: "a")
            _ = try await store.storeResult(result("m-old~a", agent: "a"))
            _ = try await store.setModuleState(
                requestID: "solo-done", agentID: "a", module: "ping_module", state: .created, expectedVersion: 0, actor: "t")
            try await Self.finish(store, "solo-done", agent: "a", to: .error)
            _ = try await store.storeResult(result("solo-done", agent: "a"))
            _ = try await store.setModuleState(
                requestID: "solo-running", agentID: "a", module: "ping_module", state: .created, expectedVersion: 0, actor: "t")
            try await Task.sleep(for: .milliseconds(2200))
            // Younger than the retention: stays although it ended.
            _ = try await store.createMeasurement(MeasurementStoreTests.record("m-new", agents: ["a"]), deadline: nil, actor: "t")
            try await Self.finish(store, "m-new~a", agent: "a")

            let first = try await store.sweep()
            #expect(first.measurements == 0, "m-old still has a running run")
            #expect(first.states == 1 && first.results == 1, "only the ended untracked request went: \(first)")
            var keys = try await Self.keys(server)
            #expect(keys.contains("imn:measurement:m-old") && keys.contains("imn:state:m-old~a") && keys.contains("imn:result:m-old~a"))
            #expect(!keys.contains("imn:state:solo-done") && !keys.contains("imn:state:solo-done:log") && !keys.contains("imn:result:solo-done"))
            #expect(keys.contains("imn:idem:result:solo-done"), "the idempotency marker keeps its own expiry")
            #expect(keys.contains("imn:state:solo-running"))

            try await Self.finish(store, "m-old~b", agent: "b", to: .failed)
            let second = try await store.sweep()
            #expect(second.measurements == 1 && second.states == 2 && second.results == 1, "\(second)")
            keys = try await Self.keys(server)
            for gone in ["imn:measurement:m-old", "imn:state:m-old~a", "imn:state:m-old~a:log", "imn:state:m-old~b", "imn:result:m-old~a"] {
                #expect(!keys.contains(gone), "\(gone) is still there")
            }
            #expect(keys.contains("imn:measurement:m-new") && keys.contains("imn:state:m-new~a"))
            #expect(try await Self.members(server, "imn:measurements") == ["m-new"])
            #expect(try await Self.members(server, "imn:states").sorted() == ["m-new~a", "solo-running"])
            #expect(try await Self.members(server, "imn:results:agent:a").isEmpty)
            await #expect(throws: DBOSError.self) { try await store.getResult(requestID: "m-old~a") }
            // The sweep is in the audit log.
            let events = try await store.events(limit: 1000).items.filter { $0.kind == "retention.swept" }
            #expect(events.map(\.detail) == ["0 measurements, 1 states, 1 results", "1 measurements, 2 states, 1 results"])
            // A late duplicate of a swept result is still refused by its marker.
            do {
                _ = try await store.storeResult(result("solo-done", agent: "a"))
                Issue.record("a swept result was stored again")
            } catch let error as DBOSError {
                #expect(error.code == .alreadyExists, "\(error)")
            }
        }
    }

    /// Ingestion behind: a result stored after the sweep took its state has nothing left to be
    /// swept with, so it expires on its own one retention later; a result whose state is there
    /// waits for the sweep and has no expiry of its own.
    @Test func aResultStoredAfterItsStateWasSweptExpiresOnItsOwn() async throws {
        try await withStore(configure: { $0.retentionSeconds = 2 }) { store, server in
            for request in ["late", "kept"] {
                _ = try await store.setModuleState(
                    requestID: request, agentID: "a", module: "ping_module", state: .created, expectedVersion: 0, actor: "t")
                try await Self.finish(store, request, agent: "a")
            }
            try await Task.sleep(for: .milliseconds(2200))
            _ = try await store.setModuleState(
                requestID: "kept-new", agentID: "a", module: "ping_module", state: .created, expectedVersion: 0, actor: "t")
            #expect(try await store.sweep().states == 2)
            _ = try await store.storeResult(result("late", agent: "a"))
            _ = try await store.storeResult(result("kept-new", agent: "a"))
            let redis = RedisClient(configuration: try RedisConfiguration(url: server.redisURL))
            let late = try await redis.send(RedisCommand("PTTL", "imn:result:late")).integer ?? 0
            let kept = try await redis.send(RedisCommand("PTTL", "imn:result:kept-new")).integer ?? 0
            await redis.close()
            #expect(late > 0 && late <= 2000, "\(late)")
            #expect(kept == -1, "a result with its state waits for the sweep")
            try await Task.sleep(for: .milliseconds(2200))
            await #expect(throws: DBOSError.self) { try await store.getResult(requestID: "late") }
            #expect(try await store.getResult(requestID: "kept-new").requestID == "kept-new")
        }
    }

    @Test func zeroKeepsEverythingForEver() async throws {
        try await withStore(configure: { $0.retentionSeconds = 0 }) { store, server in
            _ = try await store.createMeasurement(MeasurementStoreTests.record("m", agents: ["a"]), deadline: nil, actor: "t")
            try await Self.finish(store, "m~a", agent: "a")
            let before = try await Self.keys(server)
            #expect(try await store.sweep() == DBOSStore.Swept())
            #expect(try await Self.keys(server) == before)
        }
    }

    @Test func aFullRedisRefusesWritesWholeAsResourceExhausted() async throws {
        try await withStore(redisArguments: ["--maxmemory", "3mb", "--maxmemory-policy", "noeviction"]) { store, server in
            // Fill Redis to its limit with something else.
            let redis = RedisClient(configuration: try RedisConfiguration(url: server.redisURL))
            let filler = RedisArgument(String(repeating: "x", count: 10_000))
            var index = 0
            while (try? await redis.send(RedisCommand("SET", RedisArgument("filler:\(index)"), filler))) != nil, index < 10_000 { index += 1 }
            #expect(index < 10_000, "maxmemory was never reached")
            do {
                _ = try await store.createMeasurement(MeasurementStoreTests.record("m-full", agents: ["a", "b"]), deadline: nil, actor: "t")
                Issue.record("a write to a full Redis succeeded")
            } catch let error as DBOSError {
                #expect(error.code == .resourceExhausted, "\(error)")
                #expect(error.message.contains("maxmemory"))
            }
            // Nothing of it was written: no measurement, no state, no event.
            let keys = try await Self.keys(server)
            #expect(!keys.contains("imn:measurement:m-full") && !keys.contains("imn:state:m-full~a"))
            // Room again: the same call succeeds.
            _ = try await redis.send(RedisCommand("FLUSHDB"))
            await redis.close()
            #expect(try await store.createMeasurement(MeasurementStoreTests.record("m-full", agents: ["a", "b"]), deadline: nil, actor: "t").created)
        }
    }
}
