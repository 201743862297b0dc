import Agent
import Foundation
import IMNCore
import IMNTestSupport
import NATSClient
import Testing

@Suite(.enabled(if: ServerBinaries.natsAvailable, "nats-server is not installed: run scripts/setup"))
struct ExternalModuleTests {
    static func manifest(_ name: String, _ script: String) -> Data {
        let value: JSONValue = [
            "name": .string(name), "version": "0.1.0", "description": "test module",
            "input_schema": ["type": "object", "properties": ["n": ["type": "integer"]]],
            "command": ["/bin/sh", "-c", .string(script)],
        ]
        return Data(value.bytes)
    }

    /// The module names in the next heartbeat that satisfies `condition`.
    static func heartbeatModules(_ agent: AgentHarness, until condition: @escaping ([String]) -> Bool) async throws -> [String] {
        let heartbeats = try agent.connection.subscribe(to: Subjects.heartbeat(agent: agent.id))
        // Generous: on a loaded two-core CI machine the directory watcher and heartbeats lag.
        let deadline = ContinuousClock.now + .seconds(30)
        for await message in heartbeats {
            let heartbeat = try JSONDecoder().decode(Heartbeat.self, from: Data(message.payload))
            if heartbeat.modulesOmitted { continue }  // the same modules as before
            let names = heartbeat.modules.map(\.name)
            if condition(names) || ContinuousClock.now > deadline { return names }
        }
        return []
    }

    @Test func droppedInManifestIsLoadedRunsAndIsUnloadedWhenDeleted() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("imn-modules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try await withAgent(configure: { $0.modulesDirectory = folder }) { (agent: AgentHarness) async throws in
            let file = folder.appendingPathComponent("doubler.json")
            try Self.manifest("doubler", #"read line; n=$(echo "$line" | sed 's/[^0-9]//g'); echo "{\"doubled\": $((n * 2))}""#).write(to: file)
            let loaded = try await Self.heartbeatModules(agent) { $0.contains("doubler") }
            #expect(loaded.contains("doubler"))
            #expect(try await agent.command("doubler", ["n": 21], requestID: "ext-1").status == .accepted)
            let done = try #require(try await agent.transitions(of: "ext-1").last)
            #expect(done.state == "completed")
            #expect(done.output?["doubled"] == 42)
            #expect(try await agent.command("doubler", ["n": "x"]).reason == .invalidInput)

            try FileManager.default.removeItem(at: file)
            let unloaded = try await Self.heartbeatModules(agent) { !$0.contains("doubler") }
            #expect(!unloaded.contains("doubler"))
            #expect(try await agent.command("doubler", ["n": 1]).reason == .unknownModule)
        }
    }

    @Test func crashingGarbageAndHangingModulesEndBadlyWhileTheAgentKeepsServing() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("imn-modules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.manifest("crasher", "echo 'segfault, sort of' >&2; exit 3").write(to: folder.appendingPathComponent("crasher.json"))
        try Self.manifest("garbler", "echo 'this is not json'").write(to: folder.appendingPathComponent("garbler.json"))
        try Self.manifest("hanger", "sleep 30").write(to: folder.appendingPathComponent("hanger.json"))
        try Data("{ not a manifest".utf8).write(to: folder.appendingPathComponent("broken.json"))
        try await withAgent(configure: { $0.modulesDirectory = folder }) { (agent: AgentHarness) async throws in
            _ = try await Self.heartbeatModules(agent) { Set(["crasher", "garbler", "hanger"]).isSubset(of: $0) }
            #expect(try await agent.command("crasher", [:], requestID: "c").status == .accepted)
            #expect(try await agent.command("garbler", [:], requestID: "g").status == .accepted)
            #expect(try await agent.command("hanger", [:], requestID: "h", timeout: 0.5).status == .accepted)
            let crashed = try #require(try await agent.transitions(of: "c").last)
            #expect(crashed.state == "error")
            #expect(crashed.error?.contains("status 3") == true)
            #expect(crashed.error?.contains("segfault, sort of") == true)
            #expect(try await agent.transitions(of: "g").last?.state == "error")
            let hung = try #require(try await agent.transitions(of: "h").last)
            #expect(hung.state == "failed")
            #expect(try await agent.command("echo_module", ["message": "alive"]).status == .accepted)
        }
    }
}
