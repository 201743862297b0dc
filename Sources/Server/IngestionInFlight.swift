import Synchronization

/// Terminal results this replica fetched from JetStream and has answered `?wait` with, whose DBOS
/// writes have not finished yet. A read of such a request (its result or its state) waits for the
/// write, up to ``readThroughLimit``, so that a `GET` right after a `200` sees what the `200` said.
final class IngestionInFlight: Sendable {
    private let writing = Mutex<[String: Int]>([:])

    /// Longest a read waits for a write in flight (a failed write is retried a second later).
    static let readThroughLimit = Duration.seconds(2)

    func begin(_ requestID: String) { writing.withLock { $0[requestID, default: 0] += 1 } }

    func end(_ requestID: String) {
        writing.withLock { writing in
            let left = writing[requestID, default: 1] - 1
            writing[requestID] = left > 0 ? left : nil
        }
    }

    func isWriting(_ requestID: String) -> Bool { writing.withLock { $0[requestID] != nil } }

    /// Returns once `requestID` has no DBOS write in flight on this replica, or after the limit.
    func settled(_ requestID: String) async {
        let until = ContinuousClock.now + Self.readThroughLimit
        while isWriting(requestID), ContinuousClock.now < until {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}
