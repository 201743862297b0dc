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

    enum CodingKeys: String, CodingKey {
        case id, agentID = "agent_id", module, state, atMilliseconds = "at_ms"
    }

    static let subject = Subjects.live(kind: "state")
}

/// Requests some handler is waiting on (`?wait=`), woken when any replica's ingestion publishes
/// a change for them, so a wait ends within a NATS hop of the result being stored.
final class StateWaiters: Sendable {
    private let waiting = Mutex<[String: [ObjectIdentifier: WakeSignal]]>([:])

    /// Runs `body` with a signal that fires on every change of `requestID`.
    func watching<T>(_ requestID: String, _ body: (WakeSignal) async throws -> T) async rethrows -> T {
        let signal = WakeSignal()
        let key = ObjectIdentifier(signal)
        waiting.withLock { $0[requestID, default: [:]][key] = signal }
        defer {
            waiting.withLock { waiting in
                waiting[requestID]?[key] = nil
                if waiting[requestID]?.isEmpty == true { waiting[requestID] = nil }
            }
        }
        return try await body(signal)
    }

    func notify(_ requestID: String) {
        for signal in waiting.withLock({ $0[requestID].map { Array($0.values) } ?? [] }) { signal.signal() }
    }

    /// Follows `imn.live.state` until cancelled.
    func follow(_ connection: NATSConnection) async throws {
        let events = try connection.subscribe(to: LiveStateEvent.subject)
        for await message in events {
            guard let event = try? JSONDecoder().decode(LiveStateEvent.self, from: Data(message.payload)) else { continue }
            notify(event.id)
        }
    }
}
