import DBOS
import IMNTestSupport
import RedisClient
import Testing

@Suite(.enabled(if: ServerBinaries.redisAvailable, "redis-server is not installed: run scripts/setup"))
struct ResultTests {
    @Test func duplicateStoreReturnsTheOriginalAndStoresNothing() async throws {
        try await withStore(configure: { $0.serverID = "dbos-test" }) { store, _ in
            var first = result("req-1", payload: #"{"rtt_ms":[0.041,0.038]}"#)
            first.metadata.agentRuntimeVersion = "0.1.0"
            first.metadata.ingestSource = "jetstream"
            let stored = try await store.storeResult(first)
            #expect(!stored.duplicate)
            #expect(stored.result.metadata.receivedAtMilliseconds > 1_700_000_000_000)
            #expect(stored.result.metadata.dbosServerID == "dbos-test")
            #expect(stored.result.metadata.agentRuntimeVersion == "0.1.0")

            let again = try await store.storeResult(result("req-1", payload: #"{"something":"else"}"#))
            #expect(again.duplicate)
            #expect(again.result == stored.result)
            #expect(try await store.getResult(requestID: "req-1").payload == first.payload)
            let listed = try await store.listResults(agentID: "agent_1")
            #expect(listed.items.map(\.requestID) == ["req-1"])
        }
    }

    @Test func hundredConcurrentStoresOfOneIDLeaveOneRecord() async throws {
        try await withStore { store, _ in
            let duplicates = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<100 {
                    group.addTask { try await store.storeResult(result("same", payload: #"{"writer":\#(index)}"#)).duplicate }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(duplicates.filter { !$0 }.count == 1)
            #expect(duplicates.filter { $0 }.count == 99)
            #expect(try await store.listResults(agentID: "agent_1", limit: 1000).items.count == 1)
            let events = try await store.events(limit: 1000)
            #expect(events.items.filter { $0.kind == "result.stored" }.count == 1)
        }
    }

    @Test func binaryPayloadSizeLimitAndBadInput() async throws {
        try await withStore(configure: { $0.maxPayloadBytes = 1024 }) { (store: DBOSStore, _: ServerProcess) async throws in
            var binary = result("bin")
            binary.payload = (0...255).map { UInt8($0) }
            #expect(try await store.storeResult(binary).result.payload == binary.payload)
            var big = result("big")
            big.payload = [UInt8](repeating: 0x41, count: 1025)
            let tooBig = await #expect(throws: DBOSError.self) { try await store.storeResult(big) }
            #expect(tooBig?.code == .invalidArgument)
            var running = result("run")
            running.status = .running
            let notTerminal = await #expect(throws: DBOSError.self) { try await store.storeResult(running) }
            #expect(notTerminal?.code == .invalidArgument)
            let empty = await #expect(throws: DBOSError.self) { try await store.storeResult(result("")) }
            #expect(empty?.code == .invalidArgument)
            let range = await #expect(throws: DBOSError.self) {
                try await store.listResults(agentID: "agent_1", range: TimeRange(since: 10, until: 5))
            }
            #expect(range?.code == .invalidArgument)
        }
    }

    @Test func pagesByTimeAndModuleAndDeletes() async throws {
        try await withStore { store, _ in
            var times: [Int64] = []
            for index in 0..<30 {
                let stored = try await store.storeResult(result("r\(index)", module: index % 2 == 0 ? "ping_module" : "tcping"))
                times.append(stored.result.metadata.receivedAtMilliseconds)
            }
            var all: [StoredResult] = []
            var cursor: String?
            repeat {
                let page = try await store.listResults(agentID: "agent_1", limit: 7, cursor: cursor)
                all += page.items
                cursor = page.nextCursor
            } while cursor != nil
            // Every result once, in receive order (ids stored in the same millisecond sort by id).
            #expect(all.count == 30)
            #expect(Set(all.map(\.requestID)) == Set((0..<30).map { "r\($0)" }))
            #expect(zip(all, all.dropFirst()).allSatisfy { $0.metadata.receivedAtMilliseconds <= $1.metadata.receivedAtMilliseconds })
            let pings = try await store.listResults(agentID: "agent_1", module: "tcping", limit: 100)
            #expect(pings.items.count == 15)
            let window = try await store.listResults(agentID: "agent_1", range: TimeRange(since: times[10], until: times[19]), limit: 100)
            #expect(Set(window.items.map(\.requestID)).isSuperset(of: (10...19).map { "r\($0)" }))
            #expect(window.items.allSatisfy { $0.metadata.receivedAtMilliseconds >= times[10] && $0.metadata.receivedAtMilliseconds <= times[19] })

            #expect(try await store.deleteResult(requestID: "r3", actor: "test"))
            #expect(try await !store.deleteResult(requestID: "r3", actor: "test"))
            let gone = await #expect(throws: DBOSError.self) { try await store.getResult(requestID: "r3") }
            #expect(gone?.code == .notFound)
            // A late duplicate of a deleted result does not bring it back.
            let late = await #expect(throws: DBOSError.self) { try await store.storeResult(result("r3")) }
            #expect(late?.code == .alreadyExists)
            #expect(try await store.listResults(agentID: "agent_1", limit: 100).items.count == 29)
        }
    }

    @Test func acknowledgedWritesSurviveKill9WithAppendfsyncAlways() async throws {
        try await withStore(appendfsync: "always") { store, server in
            var acknowledged: [String] = []
            var version: [String: Int64] = [:]
            for index in 0..<100 {
                let id = "k\(index)"
                _ = try await store.storeResult(result(id))
                version[id] = try await store.setModuleState(
                    requestID: id, agentID: "agent_1", module: "m", state: .created, expectedVersion: 0, actor: "t"
                ).version
                acknowledged.append(id)
            }
            await server.kill9()
            try await server.restart()
            for id in acknowledged {
                #expect(try await store.getResult(requestID: id).requestID == id)
                #expect(try await store.getModuleState(requestID: id).version == version[id])
            }
            #expect(try await store.listResults(agentID: "agent_1", limit: 1000).items.count == 100)
        }
    }
}
