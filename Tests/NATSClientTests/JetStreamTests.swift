import IMNTestSupport
import Testing

@testable import NATSClient

@Suite(.enabled(if: ServerBinaries.natsAvailable, "nats-server is not installed: run scripts/setup"))
struct JetStreamTests {
    static let stream = JetStreamStreamConfiguration(name: "RESULTS", subjects: ["res.>"])

    static func consumer(ackWait: Duration = .seconds(30), maxDeliver: Int = 10) -> JetStreamConsumerConfiguration {
        var configuration = JetStreamConsumerConfiguration(durableName: "ingest", filterSubject: "res.>")
        configuration.ackWait = ackWait
        configuration.maxDeliver = maxDeliver
        return configuration
    }

    @Test func duplicateMessageIDIsStoredOnce() async throws {
        try await withNATSServer { server in
            let connection = try await NATSClientTests.connect(server)
            try await connection.jetStream.createOrUpdateStream(Self.stream)
            // Creating it again, and changing it, are both fine.
            var changed = Self.stream
            changed.maxAge = .seconds(3600)
            try await connection.jetStream.createOrUpdateStream(changed)

            let first = try await connection.jetStream.publish("res.a1.ping", payload: Array("one".utf8), messageID: "req-1:completed")
            let again = try await connection.jetStream.publish("res.a1.ping", payload: Array("one".utf8), messageID: "req-1:completed")
            let other = try await connection.jetStream.publish("res.a1.ping", payload: Array("two".utf8), messageID: "req-2:completed")
            #expect(first.stream == "RESULTS")
            #expect(!first.duplicate)
            #expect(again.duplicate)
            #expect(again.sequence == first.sequence)
            #expect(other.sequence == first.sequence + 1)

            let consumer = try await connection.jetStream.pullConsumer(stream: "RESULTS", configuration: Self.consumer())
            let messages = try await consumer.fetch(batch: 10, timeout: .milliseconds(500))
            #expect(messages.map { String(decoding: $0.payload, as: UTF8.self) } == ["one", "two"])
            #expect(messages.first?.headers["Nats-Msg-Id"] == "req-1:completed")
            for message in messages { try await message.ackSync() }
            consumer.close()
            await connection.close()
        }
    }

    @Test func pipelinedPublishKeepsOrderAndAnswersEachMessage() async throws {
        try await withNATSServer { server in
            let connection = try await NATSClientTests.connect(server)
            try await connection.jetStream.createOrUpdateStream(Self.stream)
            func message(_ n: Int, id: String? = nil) -> NATSOutgoing {
                var headers = NATSHeaders()
                headers["Nats-Msg-Id"] = id ?? "m-\(n)"
                return NATSOutgoing(subject: "res.a1.ping", payload: Array("\(n)".utf8), headers: headers)
            }
            // 100 messages, one a duplicate of an earlier one, one on a subject no stream takes.
            var batch = (0..<100).map { message($0) }
            batch[50] = message(50, id: "m-10")
            batch[70].subject = "nowhere.at.all"
            let outcomes = await connection.jetStream.publish(batch)
            #expect(outcomes.count == 100)
            let acks = outcomes.compactMap { try? $0.get() }
            #expect(acks.count == 99)
            #expect(acks.filter(\.duplicate).count == 1)
            guard case .failure(let error) = outcomes[70] else {
                Issue.record("expected no responders")
                return
            }
            #expect(error.code == .noResponders)
            let fresh = acks.filter { !$0.duplicate }.map(\.sequence)
            #expect(fresh == Array(1...98).map(UInt64.init), "stored in the order sent")
            #expect(await connection.jetStream.publish([]).isEmpty)
            await connection.close()
        }
    }

    @Test func publishWithoutStreamIsNoResponders() async throws {
        try await withNATSServer { server in
            let connection = try await NATSClientTests.connect(server)
            let error = await #expect(throws: NATSError.self) {
                try await connection.jetStream.publish("nowhere.x", payload: [1], messageID: "x")
            }
            #expect(error?.code == .noResponders)
            await connection.close()
        }
    }

    @Test func unackedMessageIsRedeliveredAfterAckWait() async throws {
        try await withNATSServer { server in
            let connection = try await NATSClientTests.connect(server)
            try await connection.jetStream.createOrUpdateStream(Self.stream)
            _ = try await connection.jetStream.publish("res.a1.echo", payload: Array("payload".utf8), messageID: "m1")
            // An ack wait of 3 s: with 1 s, a loaded CI machine took long enough between the fetches
            // for the redelivery to come early.
            let consumer = try await connection.jetStream.pullConsumer(stream: "RESULTS", configuration: Self.consumer(ackWait: .seconds(3)))

            let first = try #require(try await consumer.fetch(batch: 1, timeout: .seconds(2)).first)
            #expect(first.metadata.deliveryCount == 1)
            // Not acknowledged: nothing more until the ack wait passes.
            #expect(try await consumer.fetch(batch: 1, timeout: .milliseconds(300)).isEmpty)
            let second = try #require(try await consumer.fetch(batch: 1, timeout: .seconds(8)).first)
            #expect(second.metadata.streamSequence == first.metadata.streamSequence)
            #expect(second.metadata.deliveryCount == 2)
            #expect(second.subject == "res.a1.echo")
            try await second.ackSync()
            #expect(try await consumer.fetch(batch: 1, timeout: .milliseconds(1500)).isEmpty)
            consumer.close()
            await connection.close()
        }
    }

    @Test func nakWithDelayInProgressAndTerm() async throws {
        try await withNATSServer { server in
            let connection = try await NATSClientTests.connect(server)
            try await connection.jetStream.createOrUpdateStream(Self.stream)
            let consumer = try await connection.jetStream.pullConsumer(stream: "RESULTS", configuration: Self.consumer(ackWait: .seconds(1)))
            _ = try await connection.jetStream.publish("res.a.nak", payload: [1], messageID: "nak")
            _ = try await connection.jetStream.publish("res.a.term", payload: [2], messageID: "term")
            _ = try await connection.jetStream.publish("res.a.wip", payload: [3], messageID: "wip")
            let batch = try await consumer.fetch(batch: 3, timeout: .seconds(2))
            #expect(batch.count == 3)
            let bySubject = Dictionary(uniqueKeysWithValues: batch.map { ($0.subject, $0) })
            let nakAt = ContinuousClock.now
            try bySubject["res.a.nak"]?.nak(delay: .milliseconds(400))
            try bySubject["res.a.term"]?.term()
            try bySubject["res.a.wip"]?.inProgress()

            let redelivered = try #require(try await consumer.fetch(batch: 1, timeout: .seconds(3)).first)
            #expect(redelivered.subject == "res.a.nak")
            #expect(ContinuousClock.now - nakAt >= .milliseconds(350))
            try await redelivered.ackSync()
            // "wip" had its ack timer reset, so it comes back only after a full ack wait; ack it then.
            let wip = try #require(try await consumer.fetch(batch: 1, timeout: .seconds(3)).first)
            #expect(wip.subject == "res.a.wip")
            try await wip.ackSync()
            // "term" never comes back.
            #expect(try await consumer.fetch(batch: 1, timeout: .milliseconds(1500)).isEmpty)
            consumer.close()
            await connection.close()
        }
    }

    @Test func twoBindersShareOneDurable() async throws {
        try await withNATSServer { server in
            let a = try await NATSClientTests.connect(server, name: "server-a")
            let b = try await NATSClientTests.connect(server, name: "server-b")
            try await a.jetStream.createOrUpdateStream(Self.stream)
            for index in 0..<50 { _ = try await a.jetStream.publish("res.x.y", payload: Array("\(index)".utf8), messageID: "id-\(index)") }
            let consumerA = try await a.jetStream.pullConsumer(stream: "RESULTS", configuration: Self.consumer())
            let consumerB = try await b.jetStream.pullConsumer(stream: "RESULTS", configuration: Self.consumer())
            var seen: [String] = []
            for consumer in [consumerA, consumerB, consumerA, consumerB] {
                for message in try await consumer.fetch(batch: 13, timeout: .milliseconds(500)) {
                    seen.append(String(decoding: message.payload, as: UTF8.self))
                    try await message.ackSync()
                }
            }
            #expect(seen.count == 50)
            #expect(Set(seen).count == 50)
            // Closing one binder keeps the durable for the other.
            consumerA.close()
            _ = try await a.jetStream.publish("res.x.y", payload: Array("late".utf8), messageID: "late")
            let late = try await consumerB.fetch(batch: 1, timeout: .seconds(2))
            #expect(late.map { String(decoding: $0.payload, as: UTF8.self) } == ["late"])
            consumerB.close()
            await a.close()
            await b.close()
        }
    }

    @Test func consumerWorksAgainAfterServerRestart() async throws {
        try await withNATSServer { server in
            let connection = try await NATSClientTests.connect(server)
            try await connection.jetStream.createOrUpdateStream(Self.stream)
            let consumer = try await connection.jetStream.pullConsumer(stream: "RESULTS", configuration: Self.consumer())
            _ = try await connection.jetStream.publish("res.before", payload: [1], messageID: "before")
            await server.kill9()
            try await server.restart()
            #expect(await eventually(timeout: .seconds(15)) { connection.state == .connected })
            // The pubAcked message survived the kill (JetStream file store); new ones flow too.
            var published = false
            for _ in 0..<50 where !published {
                published = (try? await connection.jetStream.publish("res.after", payload: [2], messageID: "after")) != nil
                if !published { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(published)
            var subjects: [String] = []
            for _ in 0..<20 where subjects.count < 2 {
                for message in (try? await consumer.fetch(batch: 2, timeout: .milliseconds(500))) ?? [] {
                    subjects.append(message.subject)
                    try await message.ackSync()
                }
            }
            #expect(subjects == ["res.before", "res.after"])
            consumer.close()
            await connection.close()
        }
    }
}
