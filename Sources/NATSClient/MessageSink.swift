import CNats

/// What a libnats subscription callback hands its messages to. libnats calls on its own
/// threads; the sink copies each message, frees the C object and passes Swift values on.
///
/// A sink is retained for libnats when the subscription is made and released by the
/// subscription's on-complete callback, after the last message callback has returned.
final class MessageSink: Sendable {
    let deliver: @Sendable (_ message: NATSMessage, _ isNoResponders: Bool) -> Void
    let complete: @Sendable () -> Void

    init(deliver: @escaping @Sendable (NATSMessage, Bool) -> Void, complete: @escaping @Sendable () -> Void) {
        self.deliver = deliver
        self.complete = complete
    }

    /// The C message callback.
    static let onMessage: natsMsgHandler = { _, _, msg, closure in
        guard let msg else { return }
        defer { natsMsg_Destroy(msg) }
        guard let closure else { return }
        let sink = Unmanaged<MessageSink>.fromOpaque(closure).takeUnretainedValue()
        sink.deliver(LibNATS.copy(msg), natsMsg_IsNoResponders(msg))
    }

    /// The C on-complete callback: no message callback will run after it.
    static let onComplete: natsOnCompleteCB = { closure in
        guard let closure else { return }
        let sink = Unmanaged<MessageSink>.fromOpaque(closure).takeRetainedValue()
        sink.complete()
    }
}
