import Synchronization

/// The queue between a task that receives items one at a time and a task that handles them in
/// batches: ``next(max:)`` returns everything that arrived meanwhile (up to `max`) and waits
/// while there is nothing. After ``finish()`` the items still queued are handed out, then `next`
/// returns nil; later appends are refused.
final class StreamInbox<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item] = []
        var finished = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// False (and the item dropped) once finished.
    @discardableResult
    func append(_ item: Item) -> Bool {
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard !state.finished else { return (false, nil) }
            state.items.append(item)
            defer { state.waiter = nil }
            return (true, state.waiter)
        }
        waiter?.resume()
        return accepted
    }

    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Up to `max` queued items, oldest first; nil once finished and empty. Cancellation finishes.
    func next(max: Int) async -> [Item]? {
        while true {
            let taken = state.withLock { state -> [Item]?? in
                if !state.items.isEmpty {
                    let count = Swift.min(max, state.items.count)
                    defer { state.items.removeFirst(count) }
                    return .some(Array(state.items.prefix(count)))
                }
                return state.finished ? .some(nil) : .none
            }
            if let taken { return taken }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let ready = state.withLock { state -> Bool in
                        if !state.items.isEmpty || state.finished { return true }
                        state.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                finish()
            }
        }
    }
}
