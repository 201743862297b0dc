import CNats
import Synchronization

/// A durable pull consumer bound by this process. Several processes may bind the same durable
/// and share its messages. Fetches wait in libnats, so they run on the connection's threads.
public final class JetStreamPullConsumer: Sendable {
    public let stream: String
    public let durableName: String
    private let connection: NATSConnection
    private let subscription: Mutex<UnsafeSendablePointer?>

    init(connection: NATSConnection, subscription: OpaquePointer, stream: String, durableName: String) {
        self.connection = connection
        self.subscription = Mutex(UnsafeSendablePointer(subscription))
        self.stream = stream
        self.durableName = durableName
    }

    deinit { close() }

    /// Up to `batch` messages; fewer (or none) when `timeout` passes first.
    public func fetch(batch: Int, timeout: Duration) async throws(NATSError) -> [JetStreamMessage] {
        let connection = self.connection
        let durableName = self.durableName
        let sub = try subscription.withLock { (sub) throws(NATSError) -> UnsafeSendablePointer in
            guard let sub else { throw NATSError(.closed, "consumer \(durableName) is closed") }
            return sub
        }
        let milliseconds = LibNATS.milliseconds(timeout)
        let pointers = try await connection.runBlocking { () throws(NATSError) -> [UnsafeSendablePointer] in
            var list = natsMsgList()
            var errorCode = jsErrCode(0)
            let status = natsSubscription_Fetch(&list, sub.value, Int32(clamping: batch), milliseconds, &errorCode)
            defer { natsMsgList_Destroy(&list) }
            if status == NATS_TIMEOUT { return [] }
            try LibNATS.check(status, errorCode, "fetch from \(durableName)")
            var taken: [UnsafeSendablePointer] = []
            for index in 0..<Int(list.Count) {
                guard let msg = list.Msgs?[index] else { continue }
                // Take ownership: natsMsgList_Destroy skips entries set to NULL.
                list.Msgs?[index] = nil
                taken.append(UnsafeSendablePointer(msg))
            }
            return taken
        }
        return pointers.map { JetStreamMessage(taking: $0.value, connection: connection) }
    }

    /// Stops fetching in this process. The durable stays on the server.
    public func close() {
        guard let sub = subscription.withLock({ $0.take() }) else { return }
        // Destroy without Unsubscribe: unsubscribing could delete the shared durable.
        natsSubscription_Destroy(sub.value)
    }
}
