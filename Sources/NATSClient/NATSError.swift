/// An error from ``NATSConnection`` or ``JetStream``.
public struct NATSError: Error, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case connectionFailed, noResponders, timeout, closed, invalidArgument
            case jetStream, bufferFull, protocolViolation, library
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No server of the list could be reached.
        public static let connectionFailed = Code(.connectionFailed)
        /// A request found nobody subscribed to its subject (the server's 503 status).
        public static let noResponders = Code(.noResponders)
        /// A request or fetch got no answer in time; the request may still have been handled.
        public static let timeout = Code(.timeout)
        /// The connection was closed.
        public static let closed = Code(.closed)
        /// A subject, name or option is not valid.
        public static let invalidArgument = Code(.invalidArgument)
        /// JetStream answered with an error (see ``NATSError/jetStreamCode``).
        public static let jetStream = Code(.jetStream)
        /// The reconnect buffer is full while disconnected: the publication was not accepted.
        public static let bufferFull = Code(.bufferFull)
        /// An answer could not be understood.
        public static let protocolViolation = Code(.protocolViolation)
        /// Any other failure reported by libnats.
        public static let library = Code(.library)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String
    /// JetStream's `err_code` (10058 "stream name already in use", …) when the server sent one.
    public var jetStreamCode: Int?
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, jetStreamCode: Int? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.jetStreamCode = jetStreamCode
        self.cause = cause
    }

    public var description: String {
        var text = "NATS \(code): \(message)"
        if let jetStreamCode { text += " (JetStream error \(jetStreamCode))" }
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}
