import Foundation
import IMNCore
import Testing

@testable import Server

/// The heartbeat path at scale: alive and dead without scanning every agent, and DBOS written in
/// batches only for agents that are new, changed, or not written for a while.
struct HeartbeatPathTests {
    static func heartbeat(_ id: String, sequence: Int64 = 1, modules: [ModuleSpec] = []) -> Heartbeat {
        Heartbeat(
            agentID: id, name: id, hostname: "h", version: "1", startedAtMilliseconds: 1, sentAtMilliseconds: sequence * 1000,
            sequence: sequence, modules: modules)
    }

    @Test func agentsGoDeadByTheirOwnDeadlineAndComeBack() async throws {
        let registry = AgentRegistry(timeout: .milliseconds(600))
        #expect(registry.record(Self.heartbeat("a")).cameAlive)
        #expect(registry.record(Self.heartbeat("b")).cameAlive)
        #expect(registry.record(Self.heartbeat("a", sequence: 2)).cameAlive == false, "already alive")
        #expect(registry.counts == (2, 2))
        #expect(registry.sweep().isEmpty)
        // b keeps talking, a falls silent.
        for sequence in 2...16 {  // 4 s: the timeout, plus the sweep's whole seconds
            try await Task.sleep(for: .milliseconds(250))
            registry.record(Self.heartbeat("b", sequence: Int64(sequence)))
            _ = registry.sweep().map { #expect($0 == "a") }
        }
        #expect(registry.counts == (2, 1))
        #expect(registry.entry("a").map(registry.isAlive) == false)
        #expect(registry.record(Self.heartbeat("a", sequence: 3)).cameAlive, "a is back")
        #expect(registry.counts == (2, 2))
    }

    @Test func sweepReportsEachSilenceOnce() async throws {
        let registry = AgentRegistry(timeout: .milliseconds(200))
        for n in 0..<1000 { registry.record(Self.heartbeat("agent-\(n)")) }
        try await Task.sleep(for: .milliseconds(2300))
        let dead = registry.sweep()
        #expect(dead.count == 1000)
        #expect(registry.sweep().isEmpty)
        #expect(registry.counts == (1000, 0))
    }

    @Test func dbosGetsNewChangedAndStaleAgentsOnly() {
        let recorder = HeartbeatRecorder(actor: "test", refresh: .seconds(5))
        let start = ContinuousClock.now
        recorder.heard(Self.heartbeat("a"))
        recorder.heard(Self.heartbeat("a", sequence: 2))
        recorder.heard(Self.heartbeat("b"))
        #expect(recorder.takeDue(now: start).map(\.agentID).sorted() == ["a", "b"], "new agents, once each")
        recorder.heard(Self.heartbeat("a", sequence: 3))
        #expect(recorder.takeDue(now: start + .seconds(1)).isEmpty, "nothing new to say about a")
        let echo = ModuleSpec(name: "echo_module", version: "1", description: "", inputSchema: ["type": "object"], outputDescription: "")
        recorder.heard(Self.heartbeat("a", sequence: 4, modules: [echo]))
        #expect(recorder.takeDue(now: start + .seconds(2)).map(\.agentID) == ["a"], "a's modules changed")
        recorder.heard(Self.heartbeat("b", sequence: 9))
        #expect(recorder.takeDue(now: start + .seconds(6)).map(\.agentID) == ["b"], "b was last written 6 s ago")
        recorder.heard(Self.heartbeat("b", sequence: 10))
        recorder.forget(["b"])
        #expect(recorder.takeDue(now: start + .seconds(7)).map(\.agentID) == ["b"], "a failed write is retried")
        #expect(recorder.takeDue(now: start + .seconds(8)).isEmpty, "nothing heard since")
    }
}
