import DBOS
import IMNTestSupport
import Testing

@Suite(.enabled(if: ServerBinaries.redisAvailable, "redis-server is not installed: run scripts/setup"))
struct ModuleStateTests {
    @Test func walksTheLifeCycleWithVersionsAndHistory() async throws {
        try await withStore { store, _ in
            var state = try await store.setModuleState(
                requestID: "r1", agentID: "a1", module: "echo_module", state: .created, expectedVersion: 0, actor: "server")
            #expect(state.version == 1)
            for next in [ModuleStateName.started, .running, .completed] {
                state = try await store.setModuleState(
                    requestID: "r1", agentID: "a1", module: "echo_module", state: next, expectedVersion: state.version, actor: "agent")
            }
            #expect(state.state == .completed)
            #expect(state.version == 4)
            let read = try await store.getModuleState(requestID: "r1")
            #expect(read.history.map(\.to) == [.created, .started, .running, .completed])
            #expect(read.history.map(\.from) == [nil, .created, .started, .running])
            #expect(read.history.map(\.version) == [1, 2, 3, 4])
            #expect(read.createdAtMilliseconds > 1_700_000_000_000)
        }
    }

    @Test func fiftyConcurrentUpdatesOfOneVersionExactlyOneWins() async throws {
        try await withStore { store, _ in
            _ = try await store.setModuleState(requestID: "race", agentID: "a1", module: "m", state: .created, expectedVersion: 0, actor: "server")
            let outcomes = await withTaskGroup(of: Result<ModuleState, DBOSError>.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        do throws(DBOSError) {
                            return .success(
                                try await store.setModuleState(
                                    requestID: "race", agentID: "a1", module: "m", state: .started, expectedVersion: 1, actor: "w\(index)"))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let winners = outcomes.filter { if case .success = $0 { true } else { false } }
            let aborted = outcomes.compactMap { if case .failure(let error) = $0, error.code == .aborted { error } else { nil } }
            #expect(winners.count == 1)
            #expect(aborted.count == 49)
            #expect(aborted.allSatisfy { $0.currentState?.version == 2 && $0.currentState?.state == .started })
            #expect(try await store.getModuleState(requestID: "race").history.count == 2)
        }
    }

    @Test(arguments: [
        ([ModuleStateName.created], ModuleStateName.completed),
        ([.created], .running),
        ([.created, .started], .completed),
        ([.created, .started, .running, .completed], .running),
        ([.created, .started, .running, .completed], .failed),
        ([.created, .failed], .started),
        ([.created, .started, .running, .error], .completed),
        ([.created], .created),
    ])
    func rejectsIllegalTransitions(path: [ModuleStateName], illegal: ModuleStateName) async throws {
        try await withStore { store, _ in
            var version: Int64 = 0
            for step in path {
                version = try await store.setModuleState(requestID: "r", agentID: "a", module: "m", state: step, expectedVersion: version, actor: "t")
                    .version
            }
            let error = await #expect(throws: DBOSError.self) {
                try await store.setModuleState(requestID: "r", agentID: "a", module: "m", state: illegal, expectedVersion: version, actor: "t")
            }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.currentState?.state == path.last)
            #expect(try await store.getModuleState(requestID: "r").version == version, "nothing was applied")
        }
    }

    @Test func firstStateMustBeCreatedAndUnknownRequestsAreNotFound() async throws {
        try await withStore { store, _ in
            let first = await #expect(throws: DBOSError.self) {
                try await store.setModuleState(requestID: "new", agentID: "a", module: "m", state: .running, expectedVersion: 0, actor: "t")
            }
            #expect(first?.code == .failedPrecondition)
            let missing = await #expect(throws: DBOSError.self) {
                try await store.setModuleState(requestID: "ghost", agentID: "a", module: "m", state: .started, expectedVersion: 3, actor: "t")
            }
            #expect(missing?.code == .notFound)
            let read = await #expect(throws: DBOSError.self) { try await store.getModuleState(requestID: "ghost") }
            #expect(read?.code == .notFound)
        }
    }

    @Test func badInputIsInvalidArgument() async throws {
        try await withStore { store, _ in
            for (request, agent, module, version) in [
                ("", "a", "m", Int64(0)), ("r", "", "m", 0), ("r", "a", "", 0), ("r x", "a", "m", 0), ("r", "a", "m", -1),
            ] {
                let error = await #expect(throws: DBOSError.self) {
                    try await store.setModuleState(
                        requestID: request, agentID: agent, module: module, state: .created, expectedVersion: version, actor: "t")
                }
                #expect(error?.code == .invalidArgument)
            }
            let negative = await #expect(throws: DBOSError.self) { try await store.listModuleStates(limit: -1) }
            #expect(negative?.code == .invalidArgument)
            let cursor = await #expect(throws: DBOSError.self) { try await store.listModuleStates(cursor: "garbage") }
            #expect(cursor?.code == .invalidArgument)
        }
    }

    @Test func listsWithFiltersAndCursors() async throws {
        try await withStore { store, _ in
            for index in 0..<25 {
                let agent = index % 2 == 0 ? "even" : "odd"
                _ = try await store.setModuleState(
                    requestID: "req-\(index)", agentID: agent, module: "m\(index % 3)", state: .created, expectedVersion: 0, actor: "t")
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await store.listModuleStates(agentID: "even", limit: 4, cursor: cursor)
                #expect(page.items.count <= 4)
                seen += page.items.map(\.requestID)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(Set(seen) == Set(stride(from: 0, to: 25, by: 2).map { "req-\($0)" }))
            #expect(seen.count == 13)
            let m1Odd = try await store.listModuleStates(agentID: "odd", module: "m1", limit: 100)
            #expect(Set(m1Odd.items.map(\.requestID)) == ["req-1", "req-7", "req-13", "req-19"])
            #expect(m1Odd.nextCursor == nil)
            #expect(try await store.listModuleStates(state: .running).items.isEmpty)
        }
    }
}
