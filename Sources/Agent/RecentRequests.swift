import Synchronization

/// The request ids an agent accepted lately, so a command sent again (a server retrying after a
/// crash, a client repeating its Idempotency-Key) is answered `accepted` without a second run.
/// Bounded: the oldest ids are forgotten first.
final class RecentRequests: Sendable {
    private struct Storage {
        var ids: Set<String> = []
        var order: [String] = []
        var next = 0
    }
    private let storage = Mutex(Storage())
    let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = max(1, capacity)
    }

    /// Claims `id`; false when it was claimed already.
    func claim(_ id: String) -> Bool {
        storage.withLock { storage in
            guard storage.ids.insert(id).inserted else { return false }
            if storage.order.count < capacity {
                storage.order.append(id)
            } else {
                storage.ids.remove(storage.order[storage.next])
                storage.order[storage.next] = id
                storage.next = (storage.next + 1) % capacity
            }
            return true
        }
    }

    /// Gives `id` back (its command was rejected, so sending it again may succeed).
    func release(_ id: String) {
        storage.withLock { _ = $0.ids.remove(id) }
    }
}
