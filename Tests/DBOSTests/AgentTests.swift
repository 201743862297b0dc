import DBOS
import IMNTestSupport
import Testing

@Suite(.enabled(if: ServerBinaries.redisAvailable, "redis-server is not installed: run scripts/setup"))
struct AgentTests {
    @Test func registersRefreshesAndAuditsOnlyChanges() async throws {
        try await withStore { store, _ in
            let info = Array(#"{"name":"agent_1","modules":["echo_module"]}"#.utf8)
            let first = try await store.registerAgent(id: "a1", info: info)
            #expect(first.new)
            try await Task.sleep(for: .milliseconds(5))
            let again = try await store.registerAgent(id: "a1", info: info)
            #expect(!again.new)
            #expect(again.agent.lastSeenMilliseconds > first.agent.lastSeenMilliseconds)
            #expect(again.agent.firstSeenMilliseconds == first.agent.firstSeenMilliseconds)
            _ = try await store.registerAgent(id: "a1", info: Array(#"{"name":"agent_1","modules":[]}"#.utf8))
            _ = try await store.registerAgent(id: "a2", info: info)
            let kinds = try await store.events().items.map(\.kind)
            #expect(kinds == ["agent.registered", "agent.updated", "agent.registered"])
            #expect(try await store.getAgent(id: "a1").info == Array(#"{"name":"agent_1","modules":[]}"#.utf8))
            #expect(try await store.listAgents().items.map(\.id) == ["a1", "a2"])
            let recent = try await store.listAgents(seenSince: again.agent.lastSeenMilliseconds + 1)
            #expect(Set(recent.items.map(\.id)).isSubset(of: ["a1", "a2"]))
            let missing = await #expect(throws: DBOSError.self) { try await store.getAgent(id: "nobody") }
            #expect(missing?.code == .notFound)
            let empty = await #expect(throws: DBOSError.self) { try await store.registerAgent(id: "", info: info) }
            #expect(empty?.code == .invalidArgument)
        }
    }
}
