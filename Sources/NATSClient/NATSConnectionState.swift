import Synchronization

/// Where a connection stands. libnats reconnects by itself; this only reports it.
public enum NATSConnectionState: String, Sendable, Hashable {
    case connecting, connected, reconnecting, closed
}

/// Counters a connection keeps, for metrics and tests.
public struct NATSConnectionStatistics: Sendable, Hashable {
    public var disconnects = 0
    public var reconnects = 0
    /// Messages dropped because a subscriber's buffer was full (ours or libnats's).
    public var droppedMessages = 0
    /// Asynchronous errors libnats reported (slow consumer, permission violation…).
    public var asynchronousErrors = 0
}

/// Receives libnats's connection callbacks (on libnats's threads) and keeps state and counters.
final class ConnectionEvents: Sendable {
    private struct Storage {
        var state: NATSConnectionState = .connecting
        var statistics = NATSConnectionStatistics()
        var observers: [Int: AsyncStream<NATSConnectionState>.Continuation] = [:]
        var nextObserver = 0
        var closing = false
        /// libnats asked for a reconnect delay: it is retrying, not giving up.
        var retryScheduled = false
    }
    private let storage = Mutex(Storage())
    private let reconnectWait: Duration
    private let maxReconnectWait: Duration

    init(reconnectWait: Duration = .milliseconds(100), maxReconnectWait: Duration = .seconds(2)) {
        self.reconnectWait = reconnectWait
        self.maxReconnectWait = maxReconnectWait
    }

    /// Milliseconds to wait after `rounds` failed rounds over the server list: doubling, capped,
    /// jittered. Called by libnats: it is retrying.
    func reconnectDelay(rounds: Int) -> Int64 {
        storage.withLock { $0.retryScheduled = true }
        return Self.backoff(rounds: rounds, reconnectWait: reconnectWait, maxReconnectWait: maxReconnectWait)
    }

    /// The delay after `rounds` failed rounds, without marking a retry scheduled.
    static func backoff(rounds: Int, reconnectWait: Duration, maxReconnectWait: Duration) -> Int64 {
        let exponent = min(max(rounds - 1, 0), 20)
        let base = LibNATS.milliseconds(min(reconnectWait * (1 << exponent), maxReconnectWait))
        return base + Int64.random(in: 0...max(0, base / 10))
    }

    var state: NATSConnectionState { storage.withLock { $0.state } }
    var statistics: NATSConnectionStatistics { storage.withLock { $0.statistics } }
    var retryScheduled: Bool { storage.withLock { $0.retryScheduled } }

    func transition(to state: NATSConnectionState) {
        let observers = storage.withLock { storage -> [AsyncStream<NATSConnectionState>.Continuation] in
            guard storage.state != state, storage.state != .closed else { return [] }
            // libnats reports a disconnect while closing; that is not a reconnect.
            if storage.closing && state != .closed { return [] }
            switch state {
            case .reconnecting: storage.statistics.disconnects += 1
            case .connected where storage.state == .reconnecting: storage.statistics.reconnects += 1
            default: break
            }
            storage.state = state
            return Array(storage.observers.values)
        }
        for observer in observers {
            observer.yield(state)
            if state == .closed { observer.finish() }
        }
    }

    /// The application is closing the connection: only `.closed` follows.
    func beginClosing() { storage.withLock { $0.closing = true } }

    func countDrop() { storage.withLock { $0.statistics.droppedMessages += 1 } }
    func countAsynchronousError() { storage.withLock { $0.statistics.asynchronousErrors += 1 } }

    /// A stream of state changes, starting with the current state.
    func observe() -> AsyncStream<NATSConnectionState> {
        let (stream, continuation) = AsyncStream.makeStream(of: NATSConnectionState.self, bufferingPolicy: .bufferingNewest(16))
        let id = storage.withLock { storage in
            let id = storage.nextObserver
            storage.nextObserver += 1
            storage.observers[id] = continuation
            continuation.yield(storage.state)
            if storage.state == .closed { continuation.finish() }
            return id
        }
        continuation.onTermination = { [weak self] _ in
            self?.storage.withLock { _ = $0.observers.removeValue(forKey: id) }
        }
        return stream
    }
}
