import IMNCore
import Synchronization

/// The measurements each REST token has in flight, for its `max_concurrent_measurements`. A
/// request counts from its POST until a terminal state is announced on `imn.live.state` (by any
/// replica). At the limit, the requests held are first checked against DBOS, so one whose
/// announcement was missed (NATS down for a moment) never blocks the token for good. Counted per
/// server replica: with two replicas a token may have up to twice its limit.
final class MeasurementsInFlight: Sendable {
    /// Token name → request ids in flight.
    private let held = Mutex<[String: Set<String>]>([:])

    private enum Admission { case admitted, alreadyHeld, full(Set<String>) }

    /// Counts `requestID` against `token`'s limit, or throws 429 at the limit. Returns whether
    /// this call added it (a re-post of a request in flight is not counted twice), so the caller
    /// can `release` it when the request is refused.
    func admit(
        _ requestID: String, token: APIToken?, states: @Sendable ([String]) async -> [String: ModuleStateName]
    ) async throws(LedgerError) -> Bool {
        guard let token, let limit = token.maxConcurrentMeasurements else { return false }
        for attempt in 0..<2 {
            switch tryAdmit(requestID, token: token.name, limit: limit) {
            case .admitted: return true
            case .alreadyHeld: return false
            case .full(let ids) where attempt == 0:
                let current = await states(Array(ids))
                let finished = ids.filter { id in current[id]?.isTerminal == true }
                held.withLock { $0[token.name]?.subtract(finished) }
            case .full(let ids):
                throw LedgerError(
                    .tooManyInFlight, "token \"\(token.name)\" may have \(limit) measurements running at once; \(ids.count) are running")
            }
        }
        return false
    }

    private func tryAdmit(_ requestID: String, token: String, limit: Int) -> Admission {
        held.withLock { held in
            var ids = held[token] ?? []
            if ids.contains(requestID) { return .alreadyHeld }
            guard ids.count < limit else { return .full(ids) }
            ids.insert(requestID)
            held[token] = ids
            return .admitted
        }
    }

    /// The requests reached a terminal state, or were refused: they no longer count.
    func release(_ requestIDs: String...) { release(requestIDs) }

    func release(_ requestIDs: [String]) {
        held.withLock { held in
            for requestID in requestIDs {
                for token in Array(held.keys) where held[token]?.remove(requestID) != nil && held[token]?.isEmpty == true {
                    held[token] = nil
                }
            }
        }
    }

    /// Requests in flight for `token` (for tests and logs).
    func count(token: String) -> Int { held.withLock { $0[token]?.count ?? 0 } }
}
