import DBOS
import Foundation
import GRPCCore
import IMNTestSupport
import Testing

/// SetModuleStates and StoreResults (group commit) over a real loopback port: each item gets
/// exactly the outcome its own call would have had, and the batching client gives every caller
/// its own reply.
@Suite(.enabled(if: ServerBinaries.redisAvailable, "redis-server is not installed: run scripts/setup"))
struct BatchTests {
    @Test func storeResultsAnswersEveryItemAtItsPosition() async throws {
        try await withRedisServer { redis in
            try await withDBOS(redis: redis, configure: { $0.store.maxPayloadBytes = 2048 }) { client, _ in
                var request = Imn_Dbos_V1_StoreResultsRequest()
                request.items = [
                    .make("b1", payload: #"{"n":1}"#), .make("b2"), .make("b1", payload: #"{"n":"again"}"#),
                    .make("", payload: "{}"), .make("big", payload: String(repeating: "x", count: 4096)), .make("odd", status: "running"),
                ]
                let response = try await client.storeResults(request)
                #expect(response.items.count == 6)
                #expect(!response.items[0].hasStatus && !response.items[0].response.duplicate)
                #expect(!response.items[1].hasStatus)
                // The same id later in the same batch: a duplicate returning the first record.
                #expect(response.items[2].response.duplicate)
                #expect(response.items[2].response.result.payload == Data(#"{"n":1}"#.utf8))
                for index in 3...5 {
                    #expect(response.items[index].status.code == Int32(Status.Code.invalidArgument.rawValue), "item \(index)")
                    #expect(!response.items[index].status.message.isEmpty)
                }
                var list = Imn_Dbos_V1_ListResultsRequest()
                list.agentID = "agent_1"
                #expect(try await client.listResults(list).results.map(\.requestID).sorted() == ["b1", "b2"])

                var tooMany = Imn_Dbos_V1_StoreResultsRequest()
                tooMany.items = (0...1000).map { .make("many-\($0)") }
                #expect(await rpcCode { _ = try await client.storeResults(tooMany) } == .invalidArgument)
                #expect(try await client.storeResults(Imn_Dbos_V1_StoreResultsRequest()).items.isEmpty)
            }
        }
    }

    @Test func setModuleStatesAppliesInOrderWithTheSingleCallsErrors() async throws {
        try await withRedisServer { redis in
            try await withDBOS(redis: redis) { client, _ in
                var request = Imn_Dbos_V1_SetModuleStatesRequest()
                request.items = [
                    .make("s1", "created", version: 0), .make("s1", "started", version: 1), .make("s1", "running", version: 1),
                    .make("s1", "running", version: 2), .make("s1", "created", version: 3), .make("s1", "bogus", version: 3),
                    .make("ghost", "started", version: 2),
                ]
                let items = try await client.setModuleStates(request).items
                #expect(items.count == 7)
                #expect(items[0...1].map(\.state.state) == ["created", "started"])
                #expect(items[2].status.code == Int32(Status.Code.aborted.rawValue))
                #expect(items[2].status.current.version == 2, "the conflict carries the current state")
                #expect(items[3].state.state == "running" && items[3].state.version == 3)
                #expect(items[4].status.code == Int32(Status.Code.failedPrecondition.rawValue))
                #expect(items[5].status.code == Int32(Status.Code.invalidArgument.rawValue))
                #expect(items[6].status.code == Int32(Status.Code.notFound.rawValue))
                var get = Imn_Dbos_V1_GetModuleStateRequest()
                get.requestID = "s1"
                get.withHistory = true
                #expect(try await client.getModuleState(get).history.map(\.to) == ["created", "started", "running"])
            }
        }
    }

    @Test func groupCommitGivesEveryCallerItsOwnReplyAndStoresEachIDOnce() async throws {
        try await withRedisServer { redis in
            try await withDBOS(redis: redis) { client, _ in
                // 200 callers at once: 100 distinct ids and 100 stores of one id.
                let outcomes = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                    for n in 0..<200 {
                        group.addTask {
                            let id = n < 100 ? "gc-\(n)" : "gc-same"
                            let reply = try await client.storeResultInBatch(.make(id, payload: #"{"n":\#(n)}"#))
                            #expect(reply.result.requestID == id)
                            return (id, reply.duplicate)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(outcomes.filter { $0.0 != "gc-same" && $0.1 }.isEmpty, "distinct ids are never duplicates")
                #expect(outcomes.filter { $0.0 == "gc-same" && !$0.1 }.count == 1, "one store of the shared id wins")
                var list = Imn_Dbos_V1_ListResultsRequest()
                list.agentID = "agent_1"
                list.pageSize = 500
                #expect(try await client.listResults(list).results.count == 101)

                // 50 callers naming the same version: exactly one succeeds, the others get ABORTED.
                _ = try await client.setModuleStateInBatch(.make("gc-state", "created", version: 0))
                let codes = await withTaskGroup(of: RPCError.Code?.self) { group in
                    for _ in 0..<50 {
                        group.addTask { await rpcCode { _ = try await client.setModuleStateInBatch(.make("gc-state", "started", version: 1)) } }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                #expect(codes.filter { $0 == nil }.count == 1)
                #expect(codes.filter { $0 == .aborted }.count == 49)
                // A batched error carries the current state, as the single call's does.
                do {
                    _ = try await client.setModuleStateInBatch(.make("gc-state", "running", version: 1))
                    Issue.record("expected ABORTED")
                } catch let error as RPCError {
                    #expect(error.code == .aborted)
                    #expect(DBOSClient.currentState(in: error)?.state == "started")
                }
            }
        }
    }

    /// CreateMeasurements: each item answered as its own CreateMeasurement would be (created, a
    /// repeat answering the first record, a refusal), and concurrent callers of the batching
    /// client each get their own measurement, created once.
    @Test func createMeasurementsAnswersEachItemAsItsOwnCall() async throws {
        try await withRedisServer { redis in
            try await withDBOS(redis: redis) { client, _ in
                func create(_ id: String, agents: [String]) -> Imn_Dbos_V1_CreateMeasurementRequest {
                    var request = Imn_Dbos_V1_CreateMeasurementRequest()
                    request.measurement.id = id
                    request.measurement.module = "echo_module"
                    request.measurement.spec = Data("{}".utf8)
                    request.measurement.runs = agents.map { Imn_Dbos_V1_MeasurementRun(requestID: "\(id)~\($0)", agentID: $0) }
                    request.deadlineTaskID = "dl_\(id)"
                    request.deadlineDueMs = 1
                    return request
                }
                var batch = Imn_Dbos_V1_CreateMeasurementsRequest()
                batch.items = [
                    create("cm1", agents: ["a", "b"]), create("", agents: ["a"]), create("cm1", agents: ["z"]), create("cm2", agents: ["a"]),
                ]
                let items = try await client.dbos.createMeasurements(batch).items
                #expect(items.count == 4)
                #expect(items[0].response.created && items[0].response.states.map(\.state) == ["created", "created"])
                #expect(items[1].status.code == Int32(Status.Code.invalidArgument.rawValue))
                #expect(!items[2].response.created && items[2].response.measurement.runs.map(\.agentID) == ["a", "b"], "the first record")
                #expect(items[3].response.created && items[3].status.code == 0)

                let ids = (0..<40).map { "gc-\($0 % 20)" }  // every id twice
                let created = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                    for id in ids { group.addTask { (id, try await client.createMeasurementInBatch(create(id, agents: ["a"])).created) } }
                    return try await group.reduce(into: [String: Int]()) { counts, pair in counts[pair.0, default: 0] += pair.1 ? 1 : 0 }
                }
                #expect(created.count == 20 && created.values.allSatisfy { $0 == 1 }, "\(created)")
                let stored = try await client.getMeasurement(.with { $0.id = "gc-7" })
                #expect(stored.states.map(\.requestID) == ["gc-7~a"])
            }
        }
    }
}
