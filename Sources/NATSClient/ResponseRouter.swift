import Synchronization

/// Request/reply without blocking a thread: one wildcard inbox subscription per connection,
/// one token per request, and a continuation per token resumed by the reply, a no-responders
/// status, the timeout, or cancellation — whichever comes first.
final class ResponseRouter: Sendable {
    private struct Waiter {
        var deliver: @Sendable (Result<NATSMessage, NATSError>) -> Void
        var timeout: Task<Void, Never>?
    }

    /// `_INBOX.<unique>.`; a request's reply subject is this plus its token.
    let prefix: String
    private let waiters = Mutex<[UInt64: Waiter]>([:])
    private let tokens = Atomic<UInt64>(0)

    init(prefix: String) { self.prefix = prefix }

    func nextToken() -> UInt64 { tokens.add(1, ordering: .relaxed).newValue }

    func register(_ token: UInt64, _ continuation: CheckedContinuation<NATSMessage, any Error>) {
        register(token) { continuation.resume(with: $0.mapError { $0 as any Error }) }
    }

    /// Registers a reply handler called once, with the reply or the failure.
    func register(_ token: UInt64, _ deliver: @escaping @Sendable (Result<NATSMessage, NATSError>) -> Void) {
        waiters.withLock { $0[token] = Waiter(deliver: deliver, timeout: nil) }
    }

    func armTimeout(_ token: UInt64, after timeout: Duration, subject: String) {
        let task = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            self?.resolve(token, .failure(NATSError(.timeout, "no reply on \(subject) within \(timeout)")))
        }
        let armed = waiters.withLock { waiters -> Bool in
            guard waiters[token] != nil else { return false }
            waiters[token]?.timeout = task
            return true
        }
        if !armed { task.cancel() }
    }

    func resolve(_ token: UInt64, _ result: Result<NATSMessage, NATSError>) {
        guard let waiter = waiters.withLock({ $0.removeValue(forKey: token) }) else { return }
        waiter.timeout?.cancel()
        waiter.deliver(result)
    }

    /// The sink for the inbox subscription.
    func makeSink() -> MessageSink {
        MessageSink(
            deliver: { [weak self] message, isNoResponders in
                guard let self, message.subject.hasPrefix(self.prefix),
                    let token = UInt64(message.subject.dropFirst(self.prefix.count))
                else { return }
                if isNoResponders {
                    self.resolve(token, .failure(NATSError(.noResponders, "no responders")))
                } else {
                    self.resolve(token, .success(message))
                }
            },
            complete: { [weak self] in self?.failAll(NATSError(.closed, "the connection closed")) })
    }

    func failAll(_ error: NATSError) {
        let all = waiters.withLock { waiters -> [Waiter] in
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }
        for waiter in all {
            waiter.timeout?.cancel()
            waiter.deliver(.failure(error))
        }
    }
}
