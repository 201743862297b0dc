import CNats
import Synchronization

/// Messages on a subject, as an `AsyncSequence`. The subscription ends when ``unsubscribe()``
/// is called, when it is deallocated, or when the connection closes; libnats re-subscribes by
/// itself after a reconnect.
///
/// Messages wait in a bounded buffer (``NATSConfiguration/subscriptionBufferSize``); when a slow
/// reader lets it fill, new messages are dropped and counted in ``droppedMessages``.
public final class NATSSubscription: AsyncSequence, Sendable {
    public typealias Element = NATSMessage

    public let subject: String
    private let stream: AsyncStream<NATSMessage>
    private let handle: SubscriptionHandle
    private let drops: Counter

    init(subject: String, stream: AsyncStream<NATSMessage>, handle: SubscriptionHandle, drops: Counter) {
        self.subject = subject
        self.stream = stream
        self.handle = handle
        self.drops = drops
    }

    deinit { handle.close() }

    public var droppedMessages: Int { drops.value }

    /// Removes interest; iteration ends once buffered messages are consumed.
    public func unsubscribe() { handle.close() }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(subscription: self, base: stream.makeAsyncIterator())
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        // Keeps the subscription alive while someone iterates.
        let subscription: NATSSubscription
        var base: AsyncStream<NATSMessage>.AsyncIterator

        public mutating func next() async -> NATSMessage? { await base.next() }
    }
}

/// Owns a `natsSubscription*` and gives it back to libnats exactly once.
final class SubscriptionHandle: Sendable {
    private let subscription: Mutex<UnsafeSendablePointer?>

    init(_ subscription: OpaquePointer) { self.subscription = Mutex(UnsafeSendablePointer(subscription)) }

    func close() {
        guard let subscription = self.subscription.withLock({ $0.take() }) else { return }
        _ = natsSubscription_Unsubscribe(subscription.value)
        natsSubscription_Destroy(subscription.value)
    }
}

/// A thread-safe counter.
final class Counter: Sendable {
    private let atomic = Atomic<Int>(0)
    var value: Int { atomic.load(ordering: .relaxed) }
    func increment() { atomic.add(1, ordering: .relaxed) }
}
