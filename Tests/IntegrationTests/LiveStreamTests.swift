import Foundation
import HummingbirdWSClient
import IMNCore
import IMNTestSupport
import Logging
import NATSClient
import Synchronization
import Testing

@testable import Server

/// The live stream: 50 WebSocket clients with different filters each get exactly their events,
/// and the Server-Sent Events form carries the same events.
@Suite(.enabled(if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable, "redis-server and nats-server are needed: run scripts/setup"))
struct LiveStreamTests {
    /// What each client received, by client.
    final class Received: Sendable {
        private let events = Mutex<[Int: [JSONValue]]>([:])
        func add(_ client: Int, _ text: String) {
            guard let event = JSONValue(parsing: Array(text.utf8)) else { return }
            events.withLock { $0[client, default: []].append(event) }
        }
        func of(_ client: Int) -> [JSONValue] { events.withLock { $0[client] ?? [] } }
    }

    /// A WebSocket client that records every text message it receives.
    static func listen(url: String, client: Int, into received: Received) -> Task<Void, any Error> {
        Task {
            try await WebSocketClient.connect(url: url, logger: Logger(label: "live.test")) { inbound, _, _ in
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    if case .text(let text) = message { received.add(client, text) }
                }
            }
        }
    }

    @Test func fiftyWebSocketClientsGetExactlyTheirEvents() async throws {
        try await EndToEndTests.withStack { stack in
            let filters = [
                "kind=state&module=echo_module", "kind=result&module=faulty_module", "agent=agent_1&kind=result", "agent=agent_2",
                "kind=agent",
            ]
            let received = Received()
            let clients = (0..<50).map { client in
                Self.listen(url: "ws://127.0.0.1:\(stack.port)/live?\(filters[client % filters.count])", client: client, into: received)
            }
            defer { for client in clients { client.cancel() } }
            #expect(
                await eventually(timeout: .seconds(30)) {
                    let metrics = (try? await HTTP.request("GET", port: stack.port, path: "/metrics"))?.body ?? ""
                    return metrics.contains("imn_server_live_clients 50")
                }, "all 50 clients connected")

            // Two echoes and a faulty run on agent_1; agent_2 appears by its heartbeats.
            for key in ["live-echo-1", "live-echo-2"] {
                let echo = try await HTTP.request(
                    "POST", port: stack.port, path: "/agent/agent_1/echo_module?wait=10", body: #"{"message":"live"}"#,
                    headers: ["Idempotency-Key": key])
                #expect(echo.status == 200)
            }
            let faulty = try await HTTP.request(
                "POST", port: stack.port, path: "/agent/agent_1/faulty_module?wait=10", body: #"{"delay":0}"#,
                headers: ["Idempotency-Key": "live-faulty-1"])
            #expect(faulty.status == 200)
            let nats = try await NATSConnection.connect(NATSConfiguration(url: stack.natsURL))
            for sequence in 1...4 {
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                let heartbeat = Heartbeat(
                    agentID: "agent_2", name: "agent_2", hostname: "test", version: IMNVersion.current, startedAtMilliseconds: now,
                    sentAtMilliseconds: now, sequence: Int64(sequence), modules: [])
                try nats.publish(Subjects.heartbeat(agent: "agent_2"), payload: Array(try JSONEncoder().encode(heartbeat)))
                try await Task.sleep(for: .milliseconds(300))
            }
            await nats.close()

            func ids(_ events: [JSONValue]) -> Set<String> { Set(events.compactMap { $0["id"]?.stringValue }) }
            let echoes: Set<String> = ["live-echo-1", "live-echo-2"]
            let settled = await eventually(timeout: .seconds(15)) {
                (0..<50).allSatisfy { client in
                    let events = received.of(client)
                    switch client % filters.count {
                    case 0: return Set(events.filter { $0["state"] == "completed" }.compactMap { $0["id"]?.stringValue }) == echoes
                    case 1: return !events.isEmpty
                    case 2: return ids(events).count == 3
                    case 3: return events.contains { $0["kind"] == "agent" } && events.contains { $0["kind"] == "heartbeats" }
                    default: return events.contains { $0["up"]?.arrayValue?.contains("agent_2") == true }
                    }
                }
            }
            #expect(settled, "every client got its events")
            try await Task.sleep(for: .milliseconds(500))  // anything extra would arrive now

            for client in 0..<50 {
                let events = received.of(client)
                switch client % filters.count {
                case 0:
                    #expect(events.allSatisfy { $0["kind"] == "state" && $0["module"] == "echo_module" }, "\(client): \(events)")
                    #expect(ids(events) == echoes, "\(client)")
                case 1:
                    #expect(events.count == 1, "\(client): \(events)")
                    #expect(events.first?["id"] == "live-faulty-1")
                    #expect(events.first?["kind"] == "result")
                    #expect(events.first?["output"]?["delayed_seconds"] == 0)
                case 2:
                    #expect(events.allSatisfy { $0["kind"] == "result" && $0["agent_id"] == "agent_1" }, "\(client): \(events)")
                    #expect(ids(events) == echoes.union(["live-faulty-1"]))
                    #expect(events.count == 3, "one result each")
                case 3:
                    #expect(events.allSatisfy { $0["kind"] == "agent" || $0["kind"] == "heartbeats" }, "\(client): \(events)")
                    #expect(events.filter { $0["kind"] == "agent" }.map { $0["up"] } == [["agent_2"]], "agent_2 came up, once")
                    for beats in events where beats["kind"] == "heartbeats" {
                        #expect(beats["agents"]?.objectValue?.keys.sorted() == ["agent_2"], "only agent_2's heartbeats: \(beats)")
                    }
                default:
                    // agent_1's coming up may fall in the first second of the clients, too.
                    #expect(events.allSatisfy { $0["kind"] == "agent" && $0["down"] == [] }, "\(client): \(events)")
                    let up = events.flatMap { $0["up"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
                    #expect(up.filter { $0 == "agent_2" }.count == 1 && Set(up).isSubset(of: ["agent_1", "agent_2"]), "\(client): \(events)")
                }
            }
        }
    }

    /// A client of one replica sees a measurement made through the other (whichever ingested it).
    @Test func aClientOfEitherReplicaSeesEverything() async throws {
        try await EndToEndTests.withStack { stack in
            var second = stack.server.configuration
            second.port = FreePort.next()
            second.serverID = "e2e-second"
            let port = ListeningPort()
            let other = IMNServer(configuration: second) { port.set($0) }
            let task = Task { try await other.run() }
            try await EndToEndTests.finally(stopping: task) {
                #expect(await eventually(timeout: .seconds(30)) { port.value != 0 })
                let streams = [
                    try await SSEReader(port: stack.port, path: "/live/events?kind=result"),
                    try await SSEReader(port: port.value, path: "/live/events?kind=result"),
                ]
                defer { for stream in streams { stream.disconnect() } }
                for n in 0..<4 {
                    let reply = try await HTTP.request(
                        "POST", port: n % 2 == 0 ? stack.port : port.value, path: "/agent/agent_1/echo_module?wait=10", body: #"{"message":"r"}"#,
                        headers: ["Idempotency-Key": "replicas-\(n)"])
                    #expect(reply.status == 200, "\(reply.body)")
                }
                for (index, stream) in streams.enumerated() {
                    var seen: Set<String> = []
                    while seen.count < 4, let event = try await stream.nextEvent(timeout: .seconds(10)) {
                        if let id = event["id"]?.stringValue { seen.insert(id) }
                    }
                    #expect(seen == Set((0..<4).map { "replicas-\($0)" }), "replica \(index + 1)'s client saw \(seen.sorted())")
                }
            }
        }
    }

    @Test func serverSentEventsCarryTheSameEvents() async throws {
        try await EndToEndTests.withStack { stack in
            let stream = try await SSEReader(port: stack.port, path: "/live/events?kind=result&agent=agent_1")
            defer { stream.disconnect() }
            let echo = try await HTTP.request(
                "POST", port: stack.port, path: "/agent/agent_1/echo_module?wait=10", body: #"{"message":"sse"}"#,
                headers: ["Idempotency-Key": "live-sse-1"])
            #expect(echo.status == 200)
            let event = try await stream.nextEvent(timeout: .seconds(15))
            #expect(event?["kind"] == "result")
            #expect(event?["id"] == "live-sse-1")
            #expect(event?["output"]?["message"] == "sse")
            #expect(stream.head.lowercased().contains("content-type: text/event-stream"))

            let bad = try await HTTP.request("GET", port: stack.port, path: "/live/events?kind=nonsense")
            #expect(bad.status == 400)
        }
    }
}

/// A slow client loses its oldest events, counted, while a client that reads keeps everything.
struct LiveHubTests {
    @Test func aSlowClientLosesItsOldestEventsAndNobodyWaits() async throws {
        let hub = LiveHub(queueLimit: 4)
        let slow = hub.subscribe(LiveFilter())
        let onlyResults = hub.subscribe(LiveFilter(kinds: [.result]))
        for n in 0..<10 {
            hub.publish(LiveEvent(kind: .state, agentID: "a", module: "m", body: ["n": .number(Double(n))]))
        }
        hub.publish(LiveEvent(kind: .result, agentID: "a", module: "m", body: ["n": 10]))
        #expect(hub.dropped == 7, "11 events into a queue of 4 for the slow client; the filtered one got 1")
        slow.close()
        var kept: [Int] = []
        for await bytes in slow.events { kept.append(Int(JSONValue(parsing: bytes)?["n"]?.numberValue ?? -1)) }
        #expect(kept == [7, 8, 9, 10], "the newest four")
        onlyResults.close()
        var results: [JSONValue] = []
        for await bytes in onlyResults.events { results.append(JSONValue(parsing: bytes) ?? .null) }
        #expect(results.map { $0["kind"] } == ["result"])
        #expect(hub.clientCount == 0, "closed clients leave the hub")
    }

    @Test func filtersFromTheQuery() throws {
        let filter = try LiveFilter(query: ["agent": "a1, a2", "kind": "heartbeats,result"])
        #expect(filter.agents == ["a1", "a2"])
        let beats = LiveEvent(
            kind: .heartbeats, body: ["count": 3], perAgent: ["a1": ["sequence": 1], "a3": ["sequence": 2], "a2": ["sequence": 5]])
        let rendered = try #require(filter.render(beats).flatMap { JSONValue(parsing: $0) })
        #expect(rendered["agents"]?.objectValue?.keys.sorted() == ["a1", "a2"])
        #expect(filter.render(LiveEvent(kind: .state, agentID: "a1", module: "m", body: [:])) == nil, "kind not asked for")
        #expect(throws: Problem.self) { try LiveFilter(query: ["kind": "everything"]) }
        #expect(try LiveFilter(query: ["module": "ping_module"]).render(beats) == nil, "heartbeats name no module")
    }
}
