import Foundation
import IMNCore
import Synchronization

/// One event of the live stream (`GET /live`, `GET /live/events`), encoded once for every client.
struct LiveEvent: Sendable {
    enum Kind: String, Sendable, CaseIterable {
        /// The heartbeats heard in one second, aggregated.
        case heartbeats
        /// The agents that came up or went down in one second, aggregated.
        case agent
        /// A request's state changed.
        case state
        /// A request reached a terminal state: its output or error.
        case result
    }

    let kind: Kind
    let agentID: String?
    let module: String?
    /// The measurement a state or result event belongs to.
    let measurementID: String?
    /// The JSON every client without an agent filter gets.
    let json: [UInt8]
    /// Aggregates (`heartbeats`, `agent`): each agent's entry, for clients that follow some agents.
    let perAgent: [String: JSONValue]
    let atMilliseconds: Double

    var isAggregate: Bool { kind == .heartbeats || kind == .agent }

    init(
        kind: Kind, agentID: String? = nil, module: String? = nil, measurementID: String? = nil, body: [String: JSONValue],
        perAgent: [String: JSONValue] = [:]
    ) {
        self.kind = kind
        self.measurementID = measurementID
        self.agentID = agentID
        self.module = module
        self.perAgent = perAgent
        atMilliseconds = body["at_ms"]?.numberValue ?? 0
        var body = body
        body["kind"] = .string(kind.rawValue)
        json = JSONValue.object(body).bytes
    }
}

/// What one client asked to see: each given filter must match. Events that name no module
/// (heartbeats, agent up/down) do not pass a module filter.
struct LiveFilter: Sendable, Equatable {
    var agents: Set<String>?
    var modules: Set<String>?
    var kinds: Set<LiveEvent.Kind>?
    var measurements: Set<String>?

    init(agents: Set<String>? = nil, modules: Set<String>? = nil, kinds: Set<LiveEvent.Kind>? = nil, measurements: Set<String>? = nil) {
        (self.agents, self.modules, self.kinds, self.measurements) = (agents, modules, kinds, measurements)
    }

    /// From the query: `agent`, `module`, `kind`, `measurement`, each a comma-separated list.
    init(query: [String: String]) throws {
        func list(_ name: String) -> Set<String>? {
            guard let text = query[name] else { return nil }
            let items = Set(text.split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty })
            return items.isEmpty ? nil : items
        }
        agents = list("agent")
        modules = list("module")
        measurements = list("measurement")
        if let names = list("kind") {
            var kinds: Set<LiveEvent.Kind> = []
            for name in names {
                guard let kind = LiveEvent.Kind(rawValue: name) else {
                    throw Problem(
                        status: .badRequest, title: "Bad query parameter",
                        detail: "kind must be among \(LiveEvent.Kind.allCases.map(\.rawValue).joined(separator: ", ")), got \(name)")
                }
                kinds.insert(kind)
            }
            self.kinds = kinds
        }
    }

    /// The bytes this client gets for `event`, or nil when it does not want it.
    func render(_ event: LiveEvent) -> [UInt8]? {
        if let kinds, !kinds.contains(event.kind) { return nil }
        if let measurements {
            guard let id = event.measurementID, measurements.contains(id) else { return nil }
        }
        if let modules {
            guard let module = event.module, modules.contains(module) else { return nil }
        }
        guard let agents else { return event.json }
        if event.isAggregate {
            var mine: [String: JSONValue] = [:]
            for agent in agents { mine[agent] = event.perAgent[agent] }  // the client's few, not every agent's entry
            guard !mine.isEmpty else { return nil }
            let ids = mine.keys.sorted()
            var body: [String: JSONValue] = [
                "kind": .string(event.kind.rawValue), "at_ms": .number(event.atMilliseconds), "agents": .object(mine),
                "count": .number(Double(ids.count)),
            ]
            if event.kind == .agent {
                body["up"] = .array(ids.filter { mine[$0]?["alive"] == true }.map(JSONValue.string))
                body["down"] = .array(ids.filter { mine[$0]?["alive"] == false }.map(JSONValue.string))
            } else {
                body["agent_ids"] = .array(ids.map(JSONValue.string))
            }
            return JSONValue.object(body).bytes
        }
        guard let agent = event.agentID, agents.contains(agent) else { return nil }
        return event.json
    }
}

/// Fans events out to the clients of this server replica. Each client has a bounded queue: a
/// client that reads too slowly loses its oldest events (counted), never slowing the others.
final class LiveHub: Sendable {
    private struct Client {
        let filter: LiveFilter
        let continuation: AsyncStream<[UInt8]>.Continuation
    }

    let queueLimit: Int
    private let clients = Mutex<[Int: Client]>([:])
    private let nextID = Atomic<Int>(0)
    private let droppedEvents = Atomic<Int>(0)
    private let metrics: ServerMetrics?

    init(queueLimit: Int = 1024, metrics: ServerMetrics? = nil) {
        self.queueLimit = queueLimit
        self.metrics = metrics
    }

    /// Events dropped from slow clients' queues since the start.
    var dropped: Int { droppedEvents.load(ordering: .relaxed) }
    var clientCount: Int { clients.withLock { $0.count } }
    /// Some client follows particular agents (only such clients read an aggregate's entries).
    /// Anyone following the live stream on this replica (else events need not be made at all).
    var hasClients: Bool { clients.withLock { !$0.isEmpty } }

    var followsAgents: Bool { clients.withLock { $0.values.contains { $0.filter.agents != nil } } }

    /// Joins `filter`'s client; it leaves when the subscription is closed.
    func subscribe(_ filter: LiveFilter) -> LiveSubscription {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .bufferingNewest(queueLimit))
        continuation.onTermination = { [weak self] _ in self?.leave(id) }
        clients.withLock { clients in
            clients[id] = Client(filter: filter, continuation: continuation)
            metrics?.liveClients(clients.count)  // under the lock: joins and leaves racing never leave a stale count
        }
        return LiveSubscription(events: stream, continuation: continuation)
    }

    private func leave(_ id: Int) {
        clients.withLock { clients in
            clients[id] = nil
            metrics?.liveClients(clients.count)
        }
    }

    func publish(_ event: LiveEvent) {
        let receivers = clients.withLock { Array($0.values) }
        var dropped = 0
        for client in receivers {
            guard let bytes = client.filter.render(event) else { continue }
            if case .dropped = client.continuation.yield(bytes) { dropped += 1 }
        }
        if dropped > 0 {
            droppedEvents.add(dropped, ordering: .relaxed)
            metrics?.liveDropped(dropped)
        }
    }

    /// Ends every client's stream (server shutdown).
    func finishAll() {
        for client in clients.withLock({ Array($0.values) }) { client.continuation.finish() }
    }
}

/// One client's place in the hub: its events (encoded JSON; an empty element is a keep-alive).
struct LiveSubscription: Sendable {
    let events: AsyncStream<[UInt8]>
    fileprivate let continuation: AsyncStream<[UInt8]>.Continuation

    /// Queues a keep-alive, so that a client gone quiet is noticed by the next write.
    func keepAlive() { continuation.yield([]) }

    /// Leaves the hub and ends `events`.
    func close() { continuation.finish() }
}
