import Foundation
import IMNCore
import IMNTestSupport
import Logging
import NATSClient
import Testing

@testable import Agent

@Suite(.enabled(if: ServerBinaries.natsAvailable, "nats-server is not installed: run scripts/setup"))
struct AgentResilienceTests {
    /// Runs finish while NATS is down; their transitions wait in the outbox and arrive once
    /// NATS is back, each exactly once; heartbeats resume by themselves.
    @Test func resultsPublishedDuringAnOutageArriveExactlyOnce() async throws {
        try await withAgent { (agent: AgentHarness) async throws in
            for index in 0..<3 {
                #expect(try await agent.command("faulty_module", ["delay": 0.5], requestID: "outage-\(index)").status == .accepted)
            }
            await agent.server.kill9()
            try await Task.sleep(for: .seconds(1))  // the runs finish while NATS is down
            try await agent.server.restart()
            #expect(await eventually(timeout: .seconds(15)) { agent.connection.state == .connected })
            var seen: [String: [String]] = [:]
            let deadline = ContinuousClock.now + .seconds(15)
            while ContinuousClock.now < deadline && seen.values.filter({ $0.last == "completed" }).count < 3 {
                for message in (try? await agent.consumer.fetch(batch: 50, timeout: .milliseconds(300))) ?? [] {
                    try? await message.ackSync()
                    if let result = try? JSONDecoder().decode(ResultMessage.self, from: Data(message.payload)) {
                        seen[result.requestID, default: []].append(result.state)
                    }
                }
            }
            // Each run's transitions once, in order, ending completed (earlier ones still waiting
            // in the outbox when the run ended are dropped: the server fills them in).
            for index in 0..<3 {
                let states = seen["outage-\(index)"] ?? []
                #expect(
                    states.last == "completed" && ["started", "running", "completed"].filter(states.contains) == states, "outage-\(index): \(states)")
            }
            // A little longer: nothing is delivered twice.
            let extra = (try? await agent.consumer.fetch(batch: 50, timeout: .seconds(1))) ?? []
            #expect(extra.isEmpty)
            let heartbeats = try agent.connection.subscribe(to: Subjects.heartbeat(agent: agent.id))
            var resumed = false
            for await _ in heartbeats {
                resumed = true
                break
            }
            #expect(resumed)
        }
    }

    /// An agent started before its NATS server serves commands once the server is up: the
    /// subscriptions made while connecting are sent when the connection is established.
    @Test func agentStartedBeforeNATSServesOnceItIsUp() async throws {
        let server = try ServerProcess.natsServer()
        try await withEarlyAgent(natsURL: server.natsURL) {
            try await Task.sleep(for: .seconds(1.5))
            try await withServer(server) { server in try await expectEchoAnswered(natsURL: server.natsURL) }
        }
    }

    /// An agent whose first NATS handshake stalls (the server is stopped, as under heavy load)
    /// serves commands once the server answers.
    @Test func agentWhoseFirstHandshakeStallsServesOnceTheServerAnswers() async throws {
        try await withNATSServer { server in
            server.pause()
            try await withEarlyAgent(natsURL: server.natsURL) {
                try await Task.sleep(for: .seconds(3.5))  // longer than the 2 s connect timeout
                server.resume()
                try await expectEchoAnswered(natsURL: server.natsURL)
            }
        }
    }

    /// Runs an agent with the built-in modules, id `early`, on `natsURL` while `body` runs.
    private func withEarlyAgent(natsURL: String, _ body: () async throws -> Void) async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("imn-agent-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        var configuration = AgentConfiguration(name: "early", stateDirectory: state)
        configuration.id = "early"
        configuration.nats = NATSConfiguration(url: natsURL)
        let agent = try AgentRuntime(configuration: configuration, modules: ModuleHost(BuiltInModules.all()), metrics: AgentMetrics())
        let running = Task { try await agent.run() }
        defer { running.cancel() }
        try await body()
    }

    private func expectEchoAnswered(natsURL: String) async throws {
        let connection = try await NATSConnection.connect(NATSConfiguration(url: natsURL))
        let request = Array(try JSONEncoder().encode(CommandRequest(requestID: UUID().uuidString, input: ["message": "hi"])))
        let answered = await eventually(timeout: .seconds(10)) {
            (try? await connection.request(Subjects.command(agent: "early", module: "echo_module"), payload: request)) != nil
        }
        #expect(answered, "the agent does not answer commands")
        await connection.close()
    }

    @Test func outboxSurvivesAnAgentRestart() async throws {
        try await withNATSServer { server in
            let state = FileManager.default.temporaryDirectory.appendingPathComponent("imn-agent-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: state) }
            var configuration = AgentConfiguration(name: "restarting", stateDirectory: state)
            configuration.targetPolicy = .anything
            configuration.nats = NATSConfiguration(url: "nats://127.0.0.1:\(FreePort.next())")  // nowhere: nothing is published
            let first = try AgentRuntime(configuration: configuration, modules: ModuleHost(), metrics: AgentMetrics())
            let id = first.id
            #expect(id.hasPrefix("agent-"))
            // A transition the first process wrote to the outbox and never published…
            let outbox = try ResultOutbox(directory: state.appendingPathComponent("outbox"), logger: Logger(label: "test"))
            let pending = ResultMessage(
                requestID: "left-over", agentID: id, module: "echo_module", moduleVersion: "1.0.0", state: "completed", atMilliseconds: 1,
                agentStartedAtMilliseconds: 1, agentVersion: IMNVersion.current)
            try outbox.enqueue(pending)
            #expect(outbox.depth == 1)
            // …is published by the next process (the id is kept in the state folder).
            configuration.nats = NATSConfiguration(url: server.natsURL)
            let second = try AgentRuntime(configuration: configuration, modules: ModuleHost(), metrics: AgentMetrics())
            #expect(second.id == id)
            let running = Task { try await second.run() }
            defer { running.cancel() }
            let connection = try await NATSConnection.connect(NATSConfiguration(url: server.natsURL))
            let consumer = try await resultsConsumer(connection, durableName: "t")
            var ids: [String] = []
            for _ in 0..<30 where ids.isEmpty {
                ids += try await consumer.fetch(batch: 5, timeout: .milliseconds(300)).map { $0.headers["Nats-Msg-Id"] ?? "" }
            }
            #expect(ids == ["left-over:completed"])
            // Acknowledged: its segment file is gone.
            #expect(
                await eventually {
                    !((try? FileManager.default.contentsOfDirectory(atPath: state.appendingPathComponent("outbox").path)) ?? []).contains {
                        $0.hasSuffix(".log")
                    }
                })
            consumer.close()
            await connection.close()
        }
    }

    @Test func metricsEndpointShowsRunsAndProbes() async throws {
        try await withNATSServer { server in
            let state = FileManager.default.temporaryDirectory.appendingPathComponent("imn-agent-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: state) }
            var configuration = AgentConfiguration(name: "metrics", stateDirectory: state)
            configuration.targetPolicy = .anything
            configuration.id = "agent_m"
            configuration.nats = NATSConfiguration(url: server.natsURL)
            configuration.metricsPort = 0
            let metrics = AgentMetrics()
            let runtime = try AgentRuntime(configuration: configuration, modules: ModuleHost(BuiltInModules.all()), metrics: metrics)
            let port = ListeningPort()
            let http = try AgentHTTP.service(runtime: runtime, metrics: metrics, onListening: { port.set($0) })
            let services = Task {
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { try await runtime.run() }
                    group.addTask { try await http.run() }
                }
            }
            defer { services.cancel() }
            #expect(await eventually { port.value != 0 })
            let connection = try await NATSConnection.connect(NATSConfiguration(url: server.natsURL))
            let listener = try LoopbackListener()
            defer { listener.close() }
            let input: JSONValue = ["host": "127.0.0.1", "port": .number(Double(listener.port)), "count": 2, "interval": 0.01]
            let payload: [UInt8] = Array(try JSONEncoder().encode(CommandRequest(requestID: "m1", input: input)))
            var answered = false
            for _ in 0..<50 where !answered {
                do {
                    _ = try await connection.request("imn.cmd.agent_m.tcping", payload: payload)
                    answered = true
                } catch {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(answered)
            var body = ""
            for _ in 0..<100 where !body.contains("imn_agent_module_runs_total{module=\"tcping\",outcome=\"completed\"}") {
                try await Task.sleep(for: .milliseconds(100))
                body = (try? await LoopbackHTTP.request("GET", port: port.value, path: "/metrics"))?.body ?? ""
            }
            #expect(body.contains("imn_agent_module_runs_total{module=\"tcping\",outcome=\"completed\"} 1"))
            #expect(
                body.contains("imn_agent_probe_rtt_seconds_count{module=\"tcping\",family=\"ipv4\",target=\"127.0.0.1:\(listener.port)\"} 2"),
                "\(body)")
            #expect(body.contains("imn_agent_probe_packets_sent_total{module=\"tcping\",target=\"127.0.0.1:\(listener.port)\"} 2"))
            #expect(body.contains("imn_agent_probe_loss_ratio{module=\"tcping\",target=\"127.0.0.1:\(listener.port)\"} 0.0"), "\(body)")
            #expect(body.contains("imn_agent_probe_last_rtt_seconds{module=\"tcping\",target=\"127.0.0.1:\(listener.port)\"}"))
            #expect(body.contains("imn_agent_heartbeats_sent_total"))
            #expect(body.contains("imn_agent_memory_total_bytes"))
            #expect(body.contains("imn_agent_load_average{period=\"1m\"}"))
            #expect(body.contains("imn_agent_resident_memory_bytes"))
            #expect(body.contains("imn_agent_outbox_depth"))
            #expect(body.contains("imn_agent_nats_connected 1"))
            #expect(try await LoopbackHTTP.request("GET", port: port.value, path: "/health").body.contains("\"agent_id\":\"agent_m\""))
            #expect(try await LoopbackHTTP.request("GET", port: port.value, path: "/modules?x=1").body.contains("\"name\":\"tcping\""))
            #expect(try await LoopbackHTTP.request("GET", port: port.value, path: "/nope").status == 404)
            #expect(try await LoopbackHTTP.request("POST", port: port.value, path: "/metrics").status == 405)
            await connection.close()
        }
    }
}

@Suite struct ProbeTargetTests {
    @Test func targetLabelsAreCappedAndCaseInsensitive() {
        let targets = ProbeTargets()
        #expect(targets.label("Example.ORG") == "example.org")
        for n in 1..<ProbeTargets.limit { #expect(targets.label("host-\(n)") == "host-\(n)") }
        #expect(targets.label("one-too-many") == ProbeTargets.overflow)
        #expect(targets.label("example.org") == "example.org", "a target seen before keeps its label")
    }
}
