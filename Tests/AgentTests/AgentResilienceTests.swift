import Agent
import Foundation
import IMNCore
import IMNTestSupport
import Logging
import NATSClient
import Synchronization
import Testing

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
            while ContinuousClock.now < deadline && seen.values.map(\.count).reduce(0, +) < 9 {
                for message in (try? await agent.consumer.fetch(batch: 50, timeout: .milliseconds(300))) ?? [] {
                    try? await message.ackSync()
                    if let result = try? JSONDecoder().decode(ResultMessage.self, from: Data(message.payload)) {
                        seen[result.requestID, default: []].append(result.state)
                    }
                }
            }
            for index in 0..<3 {
                #expect(seen["outage-\(index)"] == ["started", "running", "completed"], "outage-\(index): \(seen["outage-\(index)"] ?? [])")
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

    @Test func outboxSurvivesAnAgentRestart() async throws {
        try await withNATSServer { server in
            let state = FileManager.default.temporaryDirectory.appendingPathComponent("imn-agent-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: state) }
            var configuration = AgentConfiguration(name: "restarting", stateDirectory: state)
            configuration.nats = NATSConfiguration(url: "nats://127.0.0.1:\(FreePort.next())")  // nowhere: nothing is published
            let first = try AgentRuntime(configuration: configuration, modules: ModuleHost(), metrics: AgentMetrics())
            let id = first.id
            #expect(id.hasPrefix("agent-"))
            // The id is kept in the state folder.
            configuration.nats = NATSConfiguration(url: server.natsURL)
            let second = try AgentRuntime(configuration: configuration, modules: ModuleHost(), metrics: AgentMetrics())
            #expect(second.id == id)
            // A transition written to the outbox by the first run is published by the second.
            let outbox = try ResultOutbox(directory: state.appendingPathComponent("outbox"), logger: Logger(label: "test"))
            let pending = ResultMessage(
                requestID: "left-over", agentID: id, module: "echo_module", moduleVersion: "1.0.0", state: "completed", atMilliseconds: 1,
                agentStartedAtMilliseconds: 1, agentVersion: IMNVersion.current)
            try outbox.enqueue(pending)
            #expect(outbox.depth == 1)
            let running = Task { try await second.run() }
            defer { running.cancel() }
            let connection = try await NATSConnection.connect(NATSConfiguration(url: server.natsURL))
            let consumer = try await resultsConsumer(connection, durableName: "t")
            var ids: [String] = []
            for _ in 0..<30 where ids.isEmpty {
                ids += try await consumer.fetch(batch: 5, timeout: .milliseconds(300)).map { $0.headers["Nats-Msg-Id"] ?? "" }
            }
            #expect(ids == ["left-over:completed"])
            #expect(await eventually { outbox.depth == 0 })
            consumer.close()
            await connection.close()
        }
    }

    @Test func metricsEndpointShowsRunsAndProbes() async throws {
        try await withNATSServer { server in
            let state = FileManager.default.temporaryDirectory.appendingPathComponent("imn-agent-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: state) }
            var configuration = AgentConfiguration(name: "metrics", stateDirectory: state)
            configuration.id = "agent_m"
            configuration.nats = NATSConfiguration(url: server.natsURL)
            configuration.metricsPort = 0
            let metrics = AgentMetrics()
            let runtime = try AgentRuntime(configuration: configuration, modules: ModuleHost(BuiltInModules.all()), metrics: metrics)
            let port = PortBox()
            let http = AgentHTTP.application(runtime: runtime, metrics: metrics, onListening: { port.set($0) })
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
                body = (try? await HTTPGet.text(port: port.value, path: "/metrics")) ?? ""
            }
            #expect(body.contains("imn_agent_module_runs_total{module=\"tcping\",outcome=\"completed\"} 1"))
            #expect(body.contains("imn_agent_probe_rtt_seconds_count{module=\"tcping\",family=\"ipv4\"} 2"))
            #expect(body.contains("imn_agent_heartbeats_sent_total"))
            #expect(body.contains("imn_agent_outbox_depth"))
            #expect(body.contains("imn_agent_nats_connected 1"))
            #expect(try await HTTPGet.text(port: port.value, path: "/health").contains("\"agent_id\":\"agent_m\""))
            await connection.close()
        }
    }
}

final class PortBox: Sendable {
    private let storage = Mutex(0)
    var value: Int { storage.withLock { $0 } }
    func set(_ port: Int) { storage.withLock { $0 = port } }
}

/// A blocking HTTP/1.0 GET on loopback, enough for reading /metrics in tests.
enum HTTPGet {
    static func text(port: Int, path: String) async throws -> String {
        try await offload { try blockingText(port: port, path: path) }
    }

    static func blockingText(port: Int, path: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { throw AgentError("cannot connect to port \(port)") }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        return String(decoding: response, as: UTF8.self)
    }
}
