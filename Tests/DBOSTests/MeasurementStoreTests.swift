import DBOS
import Foundation
import IMNTestSupport
import RedisClient
import Testing

/// CreateMeasurement in the store: the record, every run's state and the deadline in one script;
/// a repeat creates nothing and answers the first record; an interrupted creation is completed.
@Suite(.enabled(if: ServerBinaries.redisAvailable, "redis-server is not installed: run scripts/setup"))
struct MeasurementStoreTests {
    static func record(_ id: String, agents: [String]) -> MeasurementRecord {
        MeasurementRecord(
            id: id, module: "ping_module", spec: Array(#"{"input":{"host":"127.0.0.1"}}"#.utf8),
            runs: agents.map { MeasurementRun(requestID: "\(id)~\($0)", agentID: $0) })
    }

    @Test func createsRunsStatesAndDeadlineOnceInOneCall() async throws {
        try await withStore { store, _ in
            let deadline = DeadlineTask(id: "dl_m1", dueAtMilliseconds: 1, payload: Array(#"{"measurement_id":"m1"}"#.utf8))
            let first = try await store.createMeasurement(Self.record("m1", agents: ["a", "b", "c"]), deadline: deadline, actor: "test")
            #expect(first.created)
            #expect(first.measurement.runs.map(\.agentID) == ["a", "b", "c"])
            #expect(first.states.map(\.state) == [.created, .created, .created])
            #expect(first.states.map(\.version) == [1, 1, 1])
            #expect(first.states.map(\.module) == ["ping_module", "ping_module", "ping_module"])
            #expect(first.measurement.createdAtMilliseconds > 0)

            // The same id with other agents: nothing new, the first runs answered.
            let again = try await store.createMeasurement(Self.record("m1", agents: ["x"]), deadline: deadline, actor: "test")
            #expect(!again.created)
            #expect(again.measurement.runs.map(\.agentID) == ["a", "b", "c"])
            #expect(again.states.map(\.requestID) == ["m1~a", "m1~b", "m1~c"])

            // A run that moved on is answered as it is now.
            _ = try await store.setModuleState(
                requestID: "m1~a", agentID: "a", module: "ping_module", state: .started, expectedVersion: 1, actor: "t")
            let later = try await store.getMeasurement(id: "m1", withResults: true)
            #expect(later.states.map(\.state) == [.started, .created, .created])
            #expect(later.results.isEmpty)
            _ = try await store.storeResult(result("m1~b", agent: "b"))
            #expect(try await store.getMeasurement(id: "m1", withResults: true).results.map(\.requestID) == ["m1~b"])

            // The deadline task is there once, due, with its payload.
            let claimed = try await store.claimDueTasks(limit: 10, worker: "w")
            #expect(claimed.map(\.id) == ["dl_m1"])
            #expect(claimed.first?.payload == Array(#"{"measurement_id":"m1"}"#.utf8))

            // Listed, oldest first.
            _ = try await store.createMeasurement(Self.record("m2", agents: ["a"]), deadline: nil, actor: "test")
            #expect(try await store.listMeasurements().items.map(\.id) == ["m1", "m2"])
        }
    }

    @Test func aRepeatCompletesAnInterruptedCreation() async throws {
        try await withStore { store, server in
            _ = try await store.createMeasurement(Self.record("m3", agents: ["a", "b"]), deadline: nil, actor: "test")
            // As if the script had stopped half-way: one run's state is missing.
            let redis = RedisClient(configuration: try RedisConfiguration(url: server.redisURL))
            _ = try await redis.send(RedisCommand("DEL", "imn:state:m3~b"))
            await redis.close()
            let repaired = try await store.createMeasurement(Self.record("m3", agents: ["a", "b"]), deadline: nil, actor: "test")
            #expect(!repaired.created)
            #expect(repaired.states.map(\.requestID) == ["m3~a", "m3~b"])
        }
    }

    @Test func refusesBadMeasurements() async throws {
        try await withStore { store, _ in
            await #expect(throws: DBOSError.self) { _ = try await store.createMeasurement(Self.record("", agents: ["a"]), deadline: nil, actor: "t") }
            var twice = Self.record("m4", agents: ["a"])
            twice.runs.append(twice.runs[0])
            await #expect(throws: DBOSError.self) { _ = try await store.createMeasurement(twice, deadline: nil, actor: "t") }
            let tooMany = Self.record("m5", agents: (0...DBOSStore.maxRunsPerMeasurement).map { "a\($0)" })
            await #expect(throws: DBOSError.self) { _ = try await store.createMeasurement(tooMany, deadline: nil, actor: "t") }
            await #expect(throws: DBOSError.self) { _ = try await store.getMeasurement(id: "nothing", withResults: false) }
        }
    }
}
