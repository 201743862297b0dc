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

    /// What is available now, up to `batch` messages; when nothing is, waits up to `timeout` for
    /// the first message and returns it (an empty array when the time passes first). Unlike a
    /// plain libnats `Fetch`, which holds on to its first messages until the batch is full or the
    /// time is up, this returns as soon as there is something to do. `maxBytes` bounds the batch's
    /// payloads and headers together (the server stops before the message that would pass it).
    public func fetch(batch: Int, maxBytes: Int = 0, timeout: Duration) async throws(NATSError) -> [JetStreamMessage] {
        let connection = self.connection
        let durableName = self.durableName
        let sub = try subscription.withLock { (sub) throws(NATSError) -> UnsafeSendablePointer in
            guard let sub else { throw NATSError(.closed, "consumer \(durableName) is closed") }
            return sub
        }
        let nanoseconds = Int64(LibNATS.milliseconds(timeout)) * 1_000_000
        let pointers = try await connection.runBlocking { () throws(NATSError) -> [UnsafeSendablePointer] in
            // First: whatever is there (no_wait); then: the first message to come.
            let available = try Self.fetch(sub.value, batch: batch, maxBytes: maxBytes, noWait: true, expires: nanoseconds, durableName)
            if !available.isEmpty { return available }
            return try Self.fetch(sub.value, batch: 1, maxBytes: 0, noWait: false, expires: nanoseconds, durableName)
        }
        return pointers.map { JetStreamMessage(taking: $0.value, connection: connection) }
    }

    private static func fetch(_ sub: OpaquePointer, batch: Int, maxBytes: Int, noWait: Bool, expires: Int64, _ durableName: String) throws(NATSError)
        -> [UnsafeSendablePointer]
    {
        var request = jsFetchRequest()
        jsFetchRequest_Init(&request)
        request.Batch = Int32(clamping: batch)
        request.MaxBytes = Int64(maxBytes)
        request.NoWait = noWait
        request.Expires = expires
        var list = natsMsgList()
        let status = natsSubscription_FetchRequest(&list, sub, &request)
        defer { natsMsgList_Destroy(&list) }
        if status == NATS_TIMEOUT || status == NATS_NOT_FOUND { return [] }
        try LibNATS.check(status, "fetch from \(durableName)")
        var taken: [UnsafeSendablePointer] = []
        for index in 0..<Int(list.Count) {
            guard let msg = list.Msgs?[index] else { continue }
            // Take ownership: natsMsgList_Destroy skips entries set to NULL.
            list.Msgs?[index] = nil
            taken.append(UnsafeSendablePointer(msg))
        }
        return taken
    }

    /// Stops fetching in this process. The durable stays on the server.
    public func close() {
        guard let sub = subscription.withLock({ $0.take() }) else { return }
        // Destroy without Unsubscribe: unsubscribing could delete the shared durable.
        natsSubscription_Destroy(sub.value)
    }
}
