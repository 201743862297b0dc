import Foundation
import IMNCore
import IMNTestSupport
import Logging
import NATSClient
import Testing

@testable import Agent

/// The outbox's segment files and its in-memory publishing, against a real nats-server.
@Suite(.enabled(if: ServerBinaries.natsAvailable, "nats-server is not installed: run scripts/setup"))
struct ResultOutboxTests {
    static func message(_ requestID: String, _ state: String) -> ResultMessage {
        ResultMessage(
            requestID: requestID, agentID: "outbox", module: "echo_module", moduleVersion: "1.0.0", state: state, atMilliseconds: 1,
            agentStartedAtMilliseconds: 1, agentVersion: IMNVersion.current)
    }

    static func files(_ directory: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
    }

    /// Publishes with a fresh outbox on `directory` until `count` messages are in the stream;
    /// returns their message ids in stream order.
    static func publish(
        _ outbox: ResultOutbox, _ server: ServerProcess, count: Int, meanwhile: () async throws -> Void = {}
    ) async throws -> [String] {
        let connection = try await NATSConnection.connect(NATSConfiguration(url: server.natsURL))
        let consumer = try await resultsConsumer(connection, durableName: "outbox-\(UUID().uuidString.prefix(8))")
        let running = Task { await outbox.run(jetStream: connection.jetStream) }
        defer { running.cancel() }
        try await meanwhile()
        var ids: [String] = []
        for _ in 0..<40 where ids.count < count {
            ids += try await consumer.fetch(batch: 16, timeout: .milliseconds(100)).map { message in
                try? message.ack()
                return message.headers["Nats-Msg-Id"] ?? ""
            }
        }
        #expect(await eventually { outbox.depth == 0 })
        consumer.close()
        await connection.close()
        return ids
    }

    /// A run that ends within the hold publishes its terminal transition alone; one that takes
    /// longer publishes every transition, in order.
    @Test func terminalTransitionSupersedesEarlierOnesStillHeld() async throws {
        try await withNATSServer { server in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-outbox-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let outbox = try ResultOutbox(directory: directory, logger: Logger(label: "test"))
            let ids = try await Self.publish(outbox, server, count: 3) {
                try outbox.enqueue(Self.message("fast", "started"))
                try outbox.enqueue(Self.message("fast", "running"))
                try outbox.enqueue(Self.message("fast", "completed"))
                try outbox.enqueue(Self.message("slow", "started"))
                // Held, then published: wait for it (a fixed sleep lost the race on a loaded machine).
                #expect(await eventually { outbox.depth == 0 })
                try outbox.enqueue(Self.message("slow", "completed"))
            }
            #expect(Set(ids) == ["fast:completed", "slow:started", "slow:completed"])
            #expect((ids.firstIndex(of: "slow:started") ?? .max) < (ids.firstIndex(of: "slow:completed") ?? .min))
            // Everything acknowledged: the segment is emptied.
            let segment = try #require(Self.files(directory).first { $0.hasSuffix(".log") })
            #expect((try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(segment).path)[.size] as? Int) == 0)
        }
    }

    /// What a killed agent left — whole lines, a torn last line, a file of an older version — is
    /// published by the next process, the torn line skipped, and the files removed.
    @Test func leftEntriesArePublishedByTheNextProcess() async throws {
        try await withNATSServer { server in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-outbox-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let first = try ResultOutbox(directory: directory, logger: Logger(label: "test"))
            try first.enqueue(Self.message("left-1", "completed"))
            try first.enqueue(Self.message("left-2", "started"))
            let segment = try #require(Self.files(directory).first { $0.hasSuffix(".log") })
            let handle = try FileHandle(forWritingTo: directory.appendingPathComponent(segment))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("imn.res.outbox.echo_module\tleft-3:completed\t{\"tra".utf8))  // killed mid-write
            try handle.close()
            let legacy = #"{"subject":"imn.res.outbox.echo_module","messageID":"old-1:completed","payload":"e30="}"#
            try Data(legacy.utf8).write(to: directory.appendingPathComponent("000000000007-completed.json"))

            let next = try ResultOutbox(directory: directory, logger: Logger(label: "test"))
            let ids = try await Self.publish(next, server, count: 3)
            #expect(ids == ["left-1:completed", "left-2:started", "old-1:completed"])
            #expect(!Self.files(directory).contains { $0.hasSuffix(".json") })
            #expect(
                Self.files(directory).allSatisfy { name in
                    (try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)[.size] as? Int) == 0
                }, "\(Self.files(directory))")
        }
    }
}
