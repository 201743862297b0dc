import Agent
import Foundation
import IMNCore
import IMNTestSupport
import Logging
import NATSClient
import Synchronization

/// An agent (in-process) on a real nats-server, plus a test connection and a consumer on IMN_RESULTS.
struct AgentHarness: Sendable {
    let runtime: AgentRuntime
    let connection: NATSConnection
    let consumer: JetStreamPullConsumer
    let server: ServerProcess
    /// Transitions fetched while waiting for another request, kept for later.
    let seen = TransitionLog()

    var id: String { runtime.id }

    /// Sends a command and decodes the agent's reply.
    func command(_ module: String, _ input: JSONValue, requestID: String = UUID().uuidString, timeout: Double? = nil) async throws -> CommandReply {
        let request = CommandRequest(requestID: requestID, input: input, timeoutSeconds: timeout)
        let reply = try await connection.request(
            Subjects.command(agent: id, module: module), payload: Array(try JSONEncoder().encode(request)), timeout: .seconds(5))
        return try JSONDecoder().decode(CommandReply.self, from: Data(reply.payload))
    }

    /// Result messages of `requestID` until its terminal state (or the deadline), acknowledged.
    /// The deadline is generous: a loaded two-core CI machine took over 10 s for a 150 ms tcping
    /// to come back through JetStream.
    func transitions(of requestID: String, timeout: Duration = .seconds(30)) async throws -> [ResultMessage] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let found = seen.entries.withLock { $0[requestID] ?? [] }
            if let last = found.last, ["completed", "error", "failed"].contains(last.state) { return found }
            if ContinuousClock.now >= deadline { return found }
            for message in try await consumer.fetch(batch: 20, timeout: .milliseconds(200)) {
                try await message.ackSync()
                guard let result = try? JSONDecoder().decode(ResultMessage.self, from: Data(message.payload)),
                    message.headers["Nats-Msg-Id"] == result.messageID
                else { continue }
                seen.entries.withLock { $0[result.requestID, default: []].append(result) }
            }
        }
    }
}

func withAgent<T>(
    configure: (inout AgentConfiguration) -> Void = { _ in }, modules: [any MeasurementModule] = BuiltInModules.all(),
    _ body: (AgentHarness) async throws -> T
) async throws -> T {
    try await withNATSServer { server in
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("imn-agent-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        var configuration = AgentConfiguration(name: "agent_t", stateDirectory: state)
        configuration.targetPolicy = .anything
        configuration.id = "agent_t"
        configuration.nats = NATSConfiguration(url: server.natsURL)
        configuration.nats.reconnectWait = .milliseconds(100)
        configuration.heartbeatInterval = .milliseconds(500)
        configure(&configuration)
        let runtime = try AgentRuntime(
            configuration: configuration, modules: ModuleHost(modules), metrics: AgentMetrics(), logger: Logger(label: "test.agent"))
        let running = Task { try await runtime.run() }
        defer { running.cancel() }
        var testConfiguration = NATSConfiguration(url: server.natsURL)
        testConfiguration.reconnectWait = .milliseconds(100)
        // A few tries: on a loaded machine nats-server may drop a client whose handshake is slow.
        var attempt = 0
        var connection: NATSConnection
        while true {
            do {
                connection = try await NATSConnection.connect(testConfiguration)
                break
            } catch  where attempt < 5 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        let consumer = try await resultsConsumer(connection, durableName: "test")
        // The agent subscribes asynchronously; wait until it answers.
        let harness = AgentHarness(runtime: runtime, connection: connection, consumer: consumer, server: server)
        guard await eventually(timeout: .seconds(20), { (try? await harness.command("nonexistent", [:])) != nil }) else {
            consumer.close()
            await connection.close()
            throw HarnessError(description: "the agent did not answer commands within 20 s")
        }
        do {
            let result = try await body(harness)
            consumer.close()
            await connection.close()
            return result
        } catch {
            consumer.close()
            await connection.close()
            throw error
        }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
}

final class TransitionLog: Sendable {
    let entries = Mutex<[String: [ResultMessage]]>([:])
}

/// Creates IMN_RESULTS as the agent does (same settings, so neither side changes it) and binds a
/// durable pull consumer to it.
func resultsConsumer(_ connection: NATSConnection, durableName: String) async throws -> JetStreamPullConsumer {
    try await connection.jetStream.createOrUpdateStream(.imnResults)
    return try await connection.jetStream.pullConsumer(
        stream: Subjects.resultsStream, configuration: JetStreamConsumerConfiguration(durableName: durableName, filterSubject: Subjects.allResults))
}
