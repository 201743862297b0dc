import IMNTestSupport
import Logging
import Testing

@testable import NATSClient

/// Against a real nats-server (JetStream on) started per test.
@Suite(.enabled(if: ServerBinaries.natsAvailable, "nats-server is not installed: run scripts/setup"))
struct NATSClientTests {
    static func connect(_ server: ServerProcess, name: String = "test", configure: (inout NATSConfiguration) -> Void = { _ in }) async throws
        -> NATSConnection
    {
        var configuration = NATSConfiguration(url: server.natsURL)
        configuration.name = name
        configuration.reconnectWait = .milliseconds(100)
        configure(&configuration)
        // A freshly started nats-server on a loaded CI machine once reset the first handshake
        // (IO error 104): a second attempt is what the product's retrying connections would make.
        for _ in 1..<3 {
            if let connection = try? await NATSConnection.connect(configuration, logger: Logger(label: "test.nats")) { return connection }
            try await Task.sleep(for: .milliseconds(200))
        }
        return try await NATSConnection.connect(configuration, logger: Logger(label: "test.nats"))
    }

    /// The first message of `subscription`, or nil after `timeout`.
    static func first(_ subscription: NATSSubscription, timeout: Duration = .seconds(5)) async -> NATSMessage? {
        await withTaskGroup(of: NATSMessage?.self) { group in
            group.addTask {
                for await message in subscription { return message }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let result = await group.next() ?? nil
            group.cancelAll()
            return result
        }
    }

    @Test func publishSubscribeKeepsHeadersCaseAndOrder() async throws {
        try await withNATSServer { server in
            let connection = try await Self.connect(server)
            let subscription = try connection.subscribe(to: "imn.test.>")
            var headers = NATSHeaders()
            headers["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            headers["Nats-Msg-Id"] = "abc"
            headers.add("X-Multi", "one")
            headers.add("X-Multi", "two")
            let payload = (0...255).map { UInt8($0) }
            try connection.publish("imn.test.a", payload: payload, headers: headers)
            let message = try #require(await Self.first(subscription))
            #expect(message.subject == "imn.test.a")
            #expect(message.payload == payload)
            #expect(message.headers["traceparent"] == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            #expect(message.headers["Traceparent"] == nil)
            #expect(message.headers.values(for: "X-Multi") == ["one", "two"])
            #expect(message.headers["Nats-Msg-Id"] == "abc")
            await connection.close()
            #expect(connection.state == .closed)
        }
    }

    @Test func requestReplyAndNoResponders() async throws {
        try await withNATSServer { server in
            let responder = try await Self.connect(server, name: "responder")
            let requester = try await Self.connect(server, name: "requester")
            let subscription = try responder.subscribe(to: "svc.echo")
            try await responder.flush()
            let serving = Task {
                for await request in subscription {
                    guard let replyTo = request.replyTo else { continue }
                    try responder.publish(replyTo, payload: Array("echo: ".utf8) + request.payload, headers: request.headers)
                }
            }
            let reply = try await requester.request("svc.echo", payload: Array("hi".utf8), headers: ["traceparent": "t"], timeout: .seconds(2))
            #expect(reply.text == "echo: hi")
            #expect(reply.headers["traceparent"] == "t")

            let started = ContinuousClock.now
            let error = await #expect(throws: NATSError.self) { try await requester.request("svc.nobody", timeout: .seconds(5)) }
            #expect(error?.code == .noResponders)
            #expect(ContinuousClock.now - started < .seconds(2), "no responders is reported at once, not at the timeout")

            let silent = try responder.subscribe(to: "svc.silent")
            try await responder.flush()
            let timeout = await #expect(throws: NATSError.self) { try await requester.request("svc.silent", timeout: .milliseconds(300)) }
            #expect(timeout?.code == .timeout)

            // Many requests in flight at once each get their own reply.
            let replies = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<200 {
                    group.addTask { try await requester.request("svc.echo", payload: Array("\(index)".utf8)).text }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(replies == Set((0..<200).map { "echo: \($0)" }))
            silent.unsubscribe()
            serving.cancel()
            subscription.unsubscribe()
            await requester.close()
            await responder.close()
        }
    }

    @Test func queueGroupSharesMessages() async throws {
        try await withNATSServer { server in
            let connection = try await Self.connect(server)
            let first = try connection.subscribe(to: "work", queue: "workers")
            let second = try connection.subscribe(to: "work", queue: "workers")
            let publisher = try await Self.connect(server)
            try await connection.flush()
            for index in 0..<200 { try publisher.publish("work", text: "\(index)") }
            try await publisher.flush()
            func drain(_ subscription: NATSSubscription) async -> Int {
                await withTaskGroup(of: Int.self) { group in
                    group.addTask {
                        var count = 0
                        for await _ in subscription { count += 1 }
                        return count
                    }
                    try? await Task.sleep(for: .milliseconds(500))
                    subscription.unsubscribe()
                    return await group.next() ?? 0
                }
            }
            async let a = drain(first)
            async let b = drain(second)
            let (countA, countB) = await (a, b)
            #expect(countA + countB == 200)
            #expect(countA > 0 && countB > 0)
            await publisher.close()
            await connection.close()
        }
    }

    @Test func slowSubscriberDropsAreCounted() async throws {
        try await withNATSServer { server in
            let connection = try await Self.connect(server, configure: { $0.subscriptionBufferSize = 10 })
            let subscription = try connection.subscribe(to: "flood")
            for index in 0..<100 { try connection.publish("flood", text: "\(index)") }
            try await connection.flush()
            #expect(await eventually { subscription.droppedMessages == 90 })
            #expect(connection.statistics.droppedMessages == 90)
            var received = 0
            for await message in subscription {
                #expect(message.text == "\(received)", "the oldest messages are kept")
                received += 1
                if received == 10 { break }
            }
            await connection.close()
        }
    }

    @Test func subscriptionResumesAfterServerRestart() async throws {
        try await withNATSServer { server in
            let connection = try await Self.connect(server)
            let states = connection.stateChanges()
            let subscription = try connection.subscribe(to: "after.restart")
            try await connection.flush()

            await server.kill9()
            #expect(await eventually { connection.state == .reconnecting })
            // Publications while disconnected wait in the reconnect buffer.
            try connection.publish("after.restart", text: "buffered")
            try await server.restart()
            #expect(await eventually(timeout: .seconds(15)) { connection.state == .connected })

            let publisher = try await Self.connect(server, name: "publisher")
            try publisher.publish("after.restart", text: "fresh")
            try await publisher.flush()
            var texts: [String] = []
            for await message in subscription {
                texts.append(message.text)
                if texts.count == 2 { break }
            }
            #expect(Set(texts) == ["buffered", "fresh"])
            #expect(connection.statistics.disconnects == 1)
            #expect(connection.statistics.reconnects == 1)
            await publisher.close()
            await connection.close()
            var seen: [NATSConnectionState] = []
            for await state in states { seen.append(state) }
            #expect(seen == [.connected, .reconnecting, .connected, .closed])
        }
    }

    @Test func connectFailsClearlyOrRetriesInTheBackground() async throws {
        let port = FreePort.next()
        var configuration = NATSConfiguration(url: "nats://127.0.0.1:\(port)")
        configuration.connectTimeout = .milliseconds(300)
        let error = await #expect(throws: NATSError.self) { try await NATSConnection.connect(configuration) }
        #expect(error?.code == .connectionFailed)

        configuration.retryOnFailedConnect = true
        configuration.reconnectWait = .milliseconds(100)
        let connection = try await NATSConnection.connect(configuration)
        #expect(connection.state == .connecting)
        await connection.close()
    }

    /// The server accepts the TCP connection but does not answer (stopped, as under heavy load)
    /// past the connect timeout: the connection keeps trying (libnats 3.4 alone would close it)
    /// and its subscriptions work once the server answers.
    @Test func stalledFirstHandshakeIsRetried() async throws {
        try await withNATSServer { server in
            server.pause()
            var configuration = NATSConfiguration(url: server.natsURL)
            configuration.connectTimeout = .milliseconds(300)
            configuration.retryOnFailedConnect = true
            let resumed = Task {
                try await Task.sleep(for: .seconds(1.5))
                server.resume()
            }
            let connection = try await NATSConnection.connect(configuration)
            let subscription = try connection.subscribe(to: "stalled.>")
            try await resumed.value
            #expect(await eventually { connection.state == .connected })
            let other = try await NATSConnection.connect(NATSConfiguration(url: server.natsURL))
            try other.publish("stalled.x", payload: Array("hello".utf8))
            try await other.flush()
            var received: [UInt8] = []
            for await message in subscription {
                received = message.payload
                break
            }
            #expect(received == Array("hello".utf8))
            await other.close()
            await connection.close()
        }
    }
}

@Suite struct NATSReconnectBackoffTests {
    @Test func reconnectDelayDoublesCapsAndJitters() {
        let events = ConnectionEvents(reconnectWait: .milliseconds(100), maxReconnectWait: .seconds(1))
        for (round, base) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (30, 1000)] {
            let delay = events.reconnectDelay(rounds: round)
            #expect(delay >= Int64(base) && delay <= Int64(base) + Int64(base) / 10, "round \(round): \(delay) ms")
        }
    }
}
