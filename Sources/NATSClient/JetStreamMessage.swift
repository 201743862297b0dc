import CNats
import Synchronization

/// A message fetched from a pull consumer. It must be acknowledged one way or another:
/// ``ack()``, ``nak(delay:)``, ``inProgress()`` (keep it, reset the ack timer) or ``term()``.
public final class JetStreamMessage: Sendable {
    public let message: NATSMessage
    public let metadata: Metadata
    private let raw: Mutex<UnsafeSendablePointer?>
    private let connection: NATSConnection

    public struct Metadata: Sendable, Hashable {
        public var streamSequence: UInt64 = 0
        public var consumerSequence: UInt64 = 0
        /// 1 on first delivery, 2 on the first redelivery, …
        public var deliveryCount: UInt64 = 0
        public var pending: UInt64 = 0
        /// When the stream stored the message, in nanoseconds since 1970.
        public var timestampNanoseconds: Int64 = 0
    }

    init(taking msg: OpaquePointer, connection: NATSConnection) {
        self.message = LibNATS.copy(msg)
        var metadata = Metadata()
        var meta: UnsafeMutablePointer<jsMsgMetaData>?
        if natsMsg_GetMetaData(&meta, msg) == NATS_OK, let meta {
            metadata.streamSequence = meta.pointee.Sequence.Stream
            metadata.consumerSequence = meta.pointee.Sequence.Consumer
            metadata.deliveryCount = meta.pointee.NumDelivered
            metadata.pending = meta.pointee.NumPending
            metadata.timestampNanoseconds = meta.pointee.Timestamp
            jsMsgMetaData_Destroy(meta)
        }
        self.metadata = metadata
        self.raw = Mutex(UnsafeSendablePointer(msg))
        self.connection = connection
    }

    deinit {
        if let msg = raw.withLock({ $0.take() }) { natsMsg_Destroy(msg.value) }
    }

    public var subject: String { message.subject }
    public var payload: [UInt8] { message.payload }
    public var headers: NATSHeaders { message.headers }

    /// Acknowledges without waiting for the server.
    public func ack() throws(NATSError) { try acknowledge("ack") { natsMsg_Ack($0, nil) } }

    /// Acknowledges and waits for the server to confirm, so the message is never redelivered
    /// for want of this acknowledgement.
    public func ackSync() async throws(NATSError) {
        let msg = try pointer()
        try await connection.runBlocking { () throws(NATSError) in
            var errorCode = jsErrCode(0)
            let status = natsMsg_AckSync(msg.value, nil, &errorCode)
            try LibNATS.check(status, errorCode, "ack")
        }
    }

    /// Asks for redelivery, after `delay` when given.
    public func nak(delay: Duration? = nil) throws(NATSError) {
        if let delay {
            let milliseconds = LibNATS.milliseconds(delay)
            try acknowledge("nak") { natsMsg_NakWithDelay($0, milliseconds, nil) }
        } else {
            try acknowledge("nak") { natsMsg_Nak($0, nil) }
        }
    }

    /// Tells the server work is still going on: the ack wait starts again.
    public func inProgress() throws(NATSError) { try acknowledge("in-progress") { natsMsg_InProgress($0, nil) } }

    /// Tells the server never to deliver this message again.
    public func term() throws(NATSError) { try acknowledge("term") { natsMsg_Term($0, nil) } }

    private func pointer() throws(NATSError) -> UnsafeSendablePointer {
        try raw.withLock { (msg) throws(NATSError) -> UnsafeSendablePointer in
            guard let msg else { throw NATSError(.invalidArgument, "message already released") }
            return msg
        }
    }

    private func acknowledge(_ what: String, _ call: (OpaquePointer) -> natsStatus) throws(NATSError) {
        try raw.withLock { (msg) throws(NATSError) in
            guard let msg else { throw NATSError(.invalidArgument, "message already released") }
            try LibNATS.check(call(msg.value), what)
        }
    }
}
