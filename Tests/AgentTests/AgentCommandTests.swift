import Agent
import Foundation
import IMNCore
import IMNTestSupport
import NATSClient
import Testing

@Suite(.enabled(if: ServerBinaries.natsAvailable, "nats-server is not installed: run scripts/setup"))
struct AgentCommandTests {
    @Test func echoRunsThroughStartedRunningCompleted() async throws {
        try await withAgent { (agent: AgentHarness) async throws in
            let reply = try await agent.command("echo_module", ["message": "hello"], requestID: "req-echo")
            #expect(reply.status == .accepted)
            let states = try await agent.transitions(of: "req-echo")
            // In order; a run that ends within the outbox's hold publishes its terminal state alone.
            #expect(["started", "running", "completed"].filter(states.map(\.state).contains) == states.map(\.state))
            #expect(states.last?.state == "completed")
            let done = try #require(states.last)
            #expect(done.output?["message"] == "hello")
            #expect(done.output?["agent_id"] == "agent_t")
            #expect(done.moduleVersion == "1.0.0")
            #expect((done.finishedAtMilliseconds ?? 0) >= (done.startedAtMilliseconds ?? .max))
        }
    }

    @Test func pingThroughTheAgent() async throws {
        try await withAgent { (agent: AgentHarness) async throws in
            #expect(
                try await agent.command("ping_module", ["host": "127.0.0.1", "count": 3, "interval": 0.05], requestID: "ping-1").status == .accepted)
            let done = try #require(try await agent.transitions(of: "ping-1").last)
            #expect(done.state == "completed")
            #expect(done.output?["received"] == 3)
            #expect(done.output?["loss"] == 0)
        }
    }

    @Test func rejectsUnknownModulesInvalidInputAndMalformedCommands() async throws {
        try await withAgent { (agent: AgentHarness) async throws in
            let unknown = try await agent.command("nope_module", [:])
            #expect(unknown.status == .rejected)
            #expect(unknown.reason == .unknownModule)
            let invalid = try await agent.command("tcping", ["host": 5, "port": 70000, "extra": true])
            #expect(invalid.reason == .invalidInput)
            #expect(Set(invalid.violations?.map(\.pointer) ?? []) == ["/host", "/port", "/extra"])
            let raw = try await agent.connection.request(Subjects.command(agent: agent.id, module: "echo_module"), payload: Array("garbage".utf8))
            let malformed = try JSONDecoder().decode(CommandReply.self, from: Data(raw.payload))
            #expect(malformed.reason == .malformedCommand)
        }
    }

    @Test func faultyModuleErrorsCrashesAndTimesOut() async throws {
        try await withAgent { (agent: AgentHarness) async throws in
            #expect(try await agent.command("faulty_module", ["error": "boom"], requestID: "f-error").status == .accepted)
            #expect(try await agent.command("faulty_module", ["crash": true], requestID: "f-crash").status == .accepted)
            #expect(try await agent.command("faulty_module", ["delay": 5], requestID: "f-slow", timeout: 0.3).status == .accepted)
            let error = try await agent.transitions(of: "f-error")
            #expect(error.last?.state == "error")
            #expect(error.last?.error == "boom")
            #expect(try await agent.transitions(of: "f-crash").last?.state == "failed")
            let slow = try await agent.transitions(of: "f-slow")
            #expect(slow.last?.state == "failed")
            #expect(slow.last?.error?.contains("timed out") == true)
            // The agent keeps serving.
            #expect(try await agent.command("echo_module", ["message": "still here"]).status == .accepted)
        }
    }

    @Test func moduleAtItsConcurrencyLimitRejectsAsOverloaded() async throws {
        try await withAgent { (agent: AgentHarness) async throws in
            for index in 0..<16 {
                #expect(try await agent.command("faulty_module", ["delay": 30], requestID: "busy-\(index)").status == .accepted)
            }
            let seventeenth = try await agent.command("faulty_module", ["delay": 30])
            #expect(seventeenth.reason == .overloaded)
            #expect(try await agent.command("echo_module", ["message": "other modules still run"]).status == .accepted)
        }
    }

    /// The same request id again (a retry after a crash) is accepted and not run a second time.
    @Test func repeatedRequestIsAcceptedButRunOnce() async throws {
        try await withAgent { (agent: AgentHarness) async throws in
            #expect(try await agent.command("echo_module", ["message": "once"], requestID: "twice-1").status == .accepted)
            #expect(try await agent.command("echo_module", ["message": "once"], requestID: "twice-1").status == .accepted)
            let first = try await agent.transitions(of: "twice-1").map(\.state)
            #expect(first.last == "completed" && first.filter { $0 == "completed" }.count == 1, "\(first)")
            // Nothing more arrives for it.
            try await Task.sleep(for: .milliseconds(500))
            _ = try await agent.transitions(of: "other", timeout: .milliseconds(600))
            #expect(agent.seen.entries.withLock { $0["twice-1"]?.map(\.state) } == first)
            // A rejected request may be sent again and then runs.
            #expect(try await agent.command("echo_module", ["message": 5], requestID: "retry-1").reason == .invalidInput)
            #expect(try await agent.command("echo_module", ["message": "fixed"], requestID: "retry-1").status == .accepted)
            #expect(try await agent.transitions(of: "retry-1").last?.state == "completed")
        }
    }

    @Test func agentWideRunLimitRejectsAsOverloaded() async throws {
        try await withAgent(configure: { $0.maxConcurrentRuns = 2 }) { (agent: AgentHarness) async throws in
            #expect(try await agent.command("faulty_module", ["delay": 30], requestID: "slow-1").status == .accepted)
            #expect(try await agent.command("faulty_module", ["delay": 30], requestID: "slow-2").status == .accepted)
            let third = try await agent.command("echo_module", ["message": "one too many"])
            #expect(third.reason == .overloaded)
            #expect(third.message?.contains("--max-concurrent-runs") == true)
        }
    }

    /// An output over the agent's limit would not fit a JetStream message (and would block the
    /// outbox): the run ends in `error` saying so, and later runs still publish.
    @Test func outputOverTheLimitIsAnError() async throws {
        try await withAgent(configure: { $0.maxOutputBytes = 1024 }) { (agent: AgentHarness) async throws in
            let big = String(repeating: "x", count: 2000)
            #expect(try await agent.command("echo_module", ["message": .string(big)], requestID: "big-1").status == .accepted)
            let done = try #require(try await agent.transitions(of: "big-1").last)
            #expect(done.state == "error")
            #expect(done.output == nil)
            #expect(done.error?.contains("more than the agent's limit of 1024") == true)
            #expect(try await agent.command("echo_module", ["message": "small"], requestID: "small-1").status == .accepted)
            #expect(try await agent.transitions(of: "small-1").last?.state == "completed")
        }
    }

    @Test func controlDisablesAndEnablesAModule() async throws {
        try await withAgent { (agent: AgentHarness) async throws in
            func control(_ action: String) async throws -> String {
                let reply = try await agent.connection.request(
                    Subjects.control(agent: agent.id), payload: Array(#"{"action":"\#(action)","module":"echo_module"}"#.utf8))
                return reply.text
            }
            #expect(try await control("disable").contains("\"ok\":true"))
            #expect(try await agent.command("echo_module", ["message": "x"]).reason == .disabledModule)
            #expect(try await control("enable").contains("\"ok\":true"))
            #expect(try await agent.command("echo_module", ["message": "x"]).status == .accepted)
            #expect(try await control("explode").contains("\"ok\":false"))
        }
    }

    @Test func tcpingMeasuresOpenPortsAndReportsRefusedOnes() async throws {
        try await withAgent { (agent: AgentHarness) async throws in
            let listener = try LoopbackListener()
            defer { listener.close() }
            #expect(
                try await agent.command(
                    "tcping", ["host": "127.0.0.1", "port": .number(Double(listener.port)), "count": 3, "interval": 0.05], requestID: "tcp-open"
                ).status == .accepted)
            let open = try #require(try await agent.transitions(of: "tcp-open").last)
            #expect(open.state == "completed")
            #expect(open.output?["connected"] == 3)
            #expect((open.output?["avg_ms"]?.numberValue ?? 99) < 50)
            #expect(open.output?["address"] == "127.0.0.1")

            let closedPort = FreePort.next()
            #expect(
                try await agent.command(
                    "tcping", ["host": "localhost", "port": .number(Double(closedPort)), "count": 2, "interval": 0.05], requestID: "tcp-closed"
                ).status == .accepted)
            let closed = try #require(try await agent.transitions(of: "tcp-closed").last)
            #expect(closed.output?["connected"] == 0)
            #expect(closed.output?["attempts"]?.arrayValue?.allSatisfy { $0["status"] == "refused" } == true)
        }
    }

    @Test func heartbeatsCarryModuleSpecsAndSystemFigures() async throws {
        try await withAgent { (agent: AgentHarness) async throws in
            let heartbeats = try agent.connection.subscribe(to: Subjects.heartbeat(agent: agent.id))
            var first: Heartbeat?
            for await message in heartbeats {
                first = try JSONDecoder().decode(Heartbeat.self, from: Data(message.payload))
                break
            }
            let heartbeat = try #require(first)
            #expect(heartbeat.agentID == "agent_t")
            #expect(
                heartbeat.modules.map(\.name) == [
                    "dns", "echo_module", "faulty_module", "heartbeat_module", "http", "mtr", "ping_module", "tcping", "traceroute",
                ])
            #expect(heartbeat.modules.first { $0.name == "echo_module" }?.inputSchema["required"] == ["message"])
            #expect(heartbeat.modules.allSatisfy { $0.outputSchema == nil }, "output schemas stay out of heartbeats")
            #expect((heartbeat.system?["memory_total_bytes"]?.numberValue ?? 0) > 0)
            #expect(try await agent.command("heartbeat_module", [:], requestID: "hb").status == .accepted)
            let figures = try #require(try await agent.transitions(of: "hb").last?.output)
            #expect(figures["cpu_percent"] != nil)
            #expect((figures["load_1m"]?.numberValue ?? -1) >= 0)
        }
    }
}

/// A listening TCP socket on 127.0.0.1 (connections are accepted by the kernel's backlog).
final class LoopbackListener: @unchecked Sendable {
    // @unchecked: fd is set once in init and only closed by the owning test.
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 128) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw AgentError("cannot listen on loopback") }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(fd) }
}
