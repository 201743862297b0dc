import Agent
import Foundation
import IMNCore
import IMNTestSupport
import Logging
import NATSClient
import Testing

/// NATS users as `imn up` and compose.yaml run them (NATSAccess): the real agent works with its
/// own user, and agent_1's user can neither speak for agent_2 nor read agent_2's commands.
@Suite(.enabled(if: ServerBinaries.natsAvailable, "nats-server is not installed: run scripts/setup"))
struct NATSPermissionTests {
    static let passwords = [
        "IMN_NATS_SERVER_PASSWORD": "server-secret", "IMN_NATS_AGENT_1_PASSWORD": "agent-1-secret", "IMN_NATS_AGENT_2_PASSWORD": "agent-2-secret",
    ]

    /// compose.yaml's nats/imn.conf is what NATSAccess writes for server, agent_1 and agent_2
    /// with passwords from the environment.
    @Test func composeConfigurationIsNATSAccess() throws {
        let access = NATSAccess(
            server: .init(name: "server", password: "$IMN_NATS_SERVER_PASSWORD"),
            agents: [
                .init(name: "agent_1", password: "$IMN_NATS_AGENT_1_PASSWORD"), .init(name: "agent_2", password: "$IMN_NATS_AGENT_2_PASSWORD"),
            ])
        let committed = try String(contentsOf: Repository.path("nats/imn.conf"), encoding: .utf8)
        let body = committed.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        #expect(body == access.configuration, "nats/imn.conf should read:\n\(access.configuration)")
    }

    @Test func agentsAreConfinedToTheirOwnSubjects() async throws {
        try await withNATSServer(extraArguments: ["-c", Repository.path("nats/imn.conf").path], environment: Self.passwords) { server in
            func url(_ user: String, _ password: String) -> String { "nats://\(user):\(password)@127.0.0.1:\(server.port)" }
            let serverConnection = try await NATSConnection.connect(NATSConfiguration(url: url("server", "server-secret")))
            let consumer = try await Self.resultsConsumer(serverConnection)

            // The real agent, with its own user, is heard and answers commands.
            let state = FileManager.default.temporaryDirectory.appendingPathComponent("imn-agent-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: state) }
            var configuration = AgentConfiguration(name: "agent_1", stateDirectory: state)
            configuration.id = "agent_1"
            configuration.nats = NATSConfiguration(url: url("agent_1", "agent-1-secret"))
            let agent = try AgentRuntime(configuration: configuration, modules: ModuleHost(BuiltInModules.all()), metrics: AgentMetrics())
            let running = Task { try await agent.run() }
            defer { running.cancel() }
            let command = Array(try JSONEncoder().encode(CommandRequest(requestID: "perm-1", input: ["message": "hi"])))
            let accepted = await eventually {
                guard let reply = try? await serverConnection.request("imn.cmd.agent_1.echo_module", payload: command) else { return false }
                return (try? JSONDecoder().decode(CommandReply.self, from: Data(reply.payload)))?.status == .accepted
            }
            #expect(accepted, "agent_1 with its own user answers commands")
            #expect(await eventually { (try? await Self.resultIDs(consumer)).map { $0.contains("perm-1:completed") } ?? false })

            // agent_1's user, used by someone else: no results or heartbeats as agent_2, no agent_2 commands.
            var rogueConfiguration = NATSConfiguration(url: url("agent_1", "agent-1-secret"))
            rogueConfiguration.inboxPrefix = NATSAccess.inboxPrefix(agent: "agent_1")
            rogueConfiguration.jetStreamTimeout = .milliseconds(500)
            let rogue = try await NATSConnection.connect(rogueConfiguration)
            let stolenCommands = try rogue.subscribe(to: "imn.cmd.agent_2.*")
            let heartbeats = try serverConnection.subscribe(to: "imn.hb.agent_2")
            try await serverConnection.flush()
            try await rogue.flush()
            await #expect(throws: NATSError.self) {
                try await rogue.jetStream.publish("imn.res.agent_2.echo_module", payload: Array("forged".utf8), messageID: "forged:completed")
            }
            try rogue.publish("imn.hb.agent_2", payload: Array("{}".utf8))
            try rogue.publish("imn.cmd.agent_2.echo_module", payload: command)
            try await rogue.flush()
            try serverConnection.publish("imn.cmd.agent_2.echo_module", payload: command)
            try await serverConnection.flush()
            #expect(await eventually { rogue.statistics.asynchronousErrors >= 3 }, "each denial is reported to the rogue client")
            #expect(await Self.nothingArrives(on: stolenCommands), "agent_1 read a command meant for agent_2")
            #expect(await Self.nothingArrives(on: heartbeats), "agent_1 sent a heartbeat as agent_2")
            #expect(try await !Self.resultIDs(consumer).contains("forged:completed"), "agent_1 published a result as agent_2")

            consumer.close()
            await rogue.close()
            await serverConnection.close()
        }
    }

    static func resultsConsumer(_ connection: NATSConnection) async throws -> JetStreamPullConsumer {
        try await connection.jetStream.createOrUpdateStream(.imnResults)
        return try await connection.jetStream.pullConsumer(
            stream: Subjects.resultsStream,
            configuration: JetStreamConsumerConfiguration(durableName: "permissions", filterSubject: Subjects.allResults))
    }

    /// Message ids of the results waiting in the stream, acknowledged.
    static func resultIDs(_ consumer: JetStreamPullConsumer) async throws -> [String] {
        var ids: [String] = []
        for message in try await consumer.fetch(batch: 50, timeout: .milliseconds(300)) {
            try await message.ackSync()
            ids.append(message.headers["Nats-Msg-Id"] ?? "")
        }
        return ids
    }

    static func nothingArrives(on subscription: NATSSubscription) async -> Bool {
        let first = Task {
            for await _ in subscription { return true }
            return false
        }
        try? await Task.sleep(for: .seconds(1))
        first.cancel()
        return await first.value == false
    }
}
