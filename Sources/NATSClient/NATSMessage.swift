/// A message received on a subscription, copied out of libnats (the C message is already freed).
public struct NATSMessage: Sendable, Hashable {
    public var subject: String
    public var replyTo: String?
    public var headers: NATSHeaders
    public var payload: [UInt8]

    public init(subject: String, replyTo: String? = nil, headers: NATSHeaders = NATSHeaders(), payload: [UInt8] = []) {
        self.subject = subject
        self.replyTo = replyTo
        self.headers = headers
        self.payload = payload
    }

    /// The payload as UTF-8 text.
    public var text: String { String(decoding: payload, as: UTF8.self) }
}
