import DBOS
import Foundation
import IMNCore
import NATSClient
import Synchronization

/// One change the server applied, as published on `imn.live.state` for every replica (and for
/// anyone watching live): which request, which agent and module, and the state it reached.
struct LiveStateEvent: Codable, Sendable {
    var id: String
    var agentID: String
    var module: String
    var state: String
    var atMilliseconds: Int64
    /// Terminal states: the module's output, or why it ended without one.
    var output: JSONValue?
    var error: String?

    enum CodingKeys: String, CodingKey {
        case id, agentID = "agent_id", module, state, atMilliseconds = "at_ms", output, error
    }

    static let subject = Subjects.live(kind: "state")

    /// Announces the change to every replica (best effort: a lost announcement only delays waiters,
    /// who also read DBOS, and the per-token count, which recounts from DBOS).
    func announce(on connection: NATSConnection) {
        if let body = try? JSONEncoder().encode(self) { try? connection.publish(Self.subject, payload: Array(body)) }
    }
}

/// Requests some handler is waiting on (`?wait=`). A terminal change wakes them: the ingestion on
/// this replica hands over the stored state and result itself (no read back from DBOS), and a
/// terminal event on `imn.live.state` from any other replica wakes them to read DBOS. So a wait
/// ends within a NATS hop of the result being stored, and intermediate states wake nobody.
final class StateWaiters: Sendable {
    /// What the ingestion stored for a request that reached a terminal state.
    struct Outcome: Sendable {
        var state: Imn_Dbos_V1_ModuleState
        var result: Imn_Dbos_V1_Result?
    }

    /// One waiting handler: its wake signal, what was handed over, if anything, and which of the
    /// requests it watches have ended (a measurement's waiter watches all its runs).
    final class Waiter: Sendable {
        let signal = WakeSignal()
        /// Answers from a terminal message fetched from JetStream, before DBOS stores it (a
        /// single-run request's wait; a measurement's reads DBOS for every run).
        let answersFromMessage: Bool
        private let handed = Mutex<Outcome?>(nil)
        private let ended = Mutex<Set<String>>([])

        init(answersFromMessage: Bool) { self.answersFromMessage = answersFromMessage }

        var outcome: Outcome? { handed.withLock { $0 } }

        func deliver(_ outcome: Outcome) {
            handed.withLock { $0 = outcome }
            finish(outcome.state.requestID)
        }

        func finish(_ requestID: String) {
            ended.withLock { _ = $0.insert(requestID) }
            signal.signal()
        }

        /// Every one of `requestIDs` has been heard ending since the waiter began.
        func heardEnd(of requestIDs: some Sequence<String>) -> Bool {
            ended.withLock { ended in requestIDs.allSatisfy(ended.contains) }
        }
    }

    private let waiting = Mutex<[String: [ObjectIdentifier: Waiter]]>([:])

    /// Runs `body` with a waiter that wakes on a terminal change of the single-run request
    /// `requestID`, or as soon as its terminal message is fetched.
    func watching<T>(_ requestID: String, _ body: (Waiter) async throws -> T) async rethrows -> T {
        try await watching(all: [requestID], answersFromMessage: true, body)
    }

    /// Runs `body` with one waiter that wakes on a terminal change of any of `requestIDs` (a
    /// measurement's runs).
    func watching<T>(all requestIDs: [String], answersFromMessage: Bool = false, _ body: (Waiter) async throws -> T) async rethrows -> T {
        let waiter = Waiter(answersFromMessage: answersFromMessage)
        let key = ObjectIdentifier(waiter)
        waiting.withLock { waiting in for id in requestIDs { waiting[id, default: [:]][key] = waiter } }
        defer {
            waiting.withLock { waiting in
                for id in requestIDs {
                    waiting[id]?[key] = nil
                    if waiting[id]?.isEmpty == true { waiting[id] = nil }
                }
            }
        }
        return try await body(waiter)
    }

    private func waiters(_ requestID: String) -> [Waiter] {
        waiting.withLock { $0[requestID].map { Array($0.values) } ?? [] }
    }

    /// A terminal change stored by this replica: its waiters answer from `outcome`.
    func deliver(_ requestID: String, _ outcome: Outcome) {
        for waiter in waiters(requestID) { waiter.deliver(outcome) }
    }

    /// A terminal message fetched from JetStream (durable there) before DBOS has it: a
    /// single-run request's waiters answer from it now; a measurement's waiters, which read DBOS
    /// for every run, are woken once it is stored.
    func deliverFetched(_ requestID: String, _ outcome: Outcome) {
        for waiter in waiters(requestID) where waiter.answersFromMessage { waiter.deliver(outcome) }
    }

    /// A change announced on `imn.live.state`: a terminal one wakes the waiters (to read DBOS).
    func notify(_ requestID: String, state: String) {
        guard ModuleStateName(rawValue: state)?.isTerminal == true else { return }
        for waiter in waiters(requestID) { waiter.finish(requestID) }
    }

    /// Follows `imn.live.state` until cancelled; `each` hears every change after its waiters.
    func follow(_ connection: NATSConnection, each: @Sendable (LiveStateEvent) -> Void) async throws {
        let events = try connection.subscribe(to: LiveStateEvent.subject)
        for await message in events {
            guard let event = try? JSONDecoder().decode(LiveStateEvent.self, from: Data(message.payload)) else { continue }
            notify(event.id, state: event.state)
            each(event)
        }
    }
}
