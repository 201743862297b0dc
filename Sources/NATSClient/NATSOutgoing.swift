import Synchronization

/// One message to send with ``NATSConnection/requests(_:timeout:)``.
public struct NATSOutgoing: Sendable {
    public var subject: String
    public var payload: [UInt8]
    public var headers: NATSHeaders

    public init(subject: String, payload: [UInt8], headers: NATSHeaders = NATSHeaders()) {
        self.subject = subject
        self.payload = payload
        self.headers = headers
    }
}

/// Gathers the replies of ``NATSConnection/requests(_:timeout:)``.
final class ReplyCollector: Sendable {
    private struct State {
        var results: [Result<NATSMessage, NATSError>?]
        var remaining: Int
        var waiter: CheckedContinuation<[Result<NATSMessage, NATSError>], Never>?
    }

    private let state: Mutex<State>

    init(count: Int) { state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count)) }

    func set(_ index: Int, _ result: Result<NATSMessage, NATSError>) {
        let finished = state.withLock { state -> (CheckedContinuation<[Result<NATSMessage, NATSError>], Never>, [Result<NATSMessage, NATSError>])? in
            if case .some = state.results[index] { return nil }
            state.results[index] = result
            state.remaining -= 1
            guard state.remaining == 0, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return (waiter, state.results.compactMap { $0 })
        }
        if let (waiter, results) = finished { waiter.resume(returning: results) }
    }

    func all() async -> [Result<NATSMessage, NATSError>] {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> [Result<NATSMessage, NATSError>]? in
                if state.remaining == 0 { return state.results.compactMap { $0 } }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
