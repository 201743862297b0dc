/// An error from ``RedisClient``. Descriptions never contain passwords.
public struct RedisError: Error, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case connectionFailed, indeterminate, server, authenticationFailed
            case protocolViolation, invalidConfiguration, closed, unexpectedReply
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No connection could be made; the command was never sent, so retrying it is safe.
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection broke or timed out after the command may have been sent: it may or may
        /// not have been applied. Only idempotent commands may be retried blindly.
        public static let indeterminate = Code(.indeterminate)
        /// Redis answered with an error reply (`ERR`, `WRONGTYPE`, `NOSCRIPT`, a Lua error…).
        public static let server = Code(.server)
        /// AUTH or SELECT was refused.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// hiredis could not parse what the server sent.
        public static let protocolViolation = Code(.protocolViolation)
        /// A URL or option is not usable.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The client was closed.
        public static let closed = Code(.closed)
        /// The reply had a shape the caller did not expect.
        public static let unexpectedReply = Code(.unexpectedReply)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// True when the outcome of the command is unknown (see ``Code/indeterminate``).
    public var isIndeterminate: Bool { code == .indeterminate }

    /// True for an error reply saying Redis will not run commands for now (`LOADING` its data
    /// after a restart, `BUSY` with a script, `TRYAGAIN`, `MASTERDOWN`): nothing was applied, so
    /// the command may be sent again later.
    public var isTransientRefusal: Bool {
        guard let prefix = serverErrorPrefix else { return false }
        return ["LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN"].contains(prefix)
    }

    /// The first word of a server error (`NOSCRIPT`, `WRONGTYPE`, `ERR`…), when there is one.
    public var serverErrorPrefix: Substring? {
        guard code == .server else { return nil }
        return message.split(separator: " ", maxSplits: 1).first
    }

    public var description: String {
        var text = "Redis \(code): \(message)"
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}

/// An operating-system error number, as a cause.
public struct SystemError: Error, CustomStringConvertible {
    public var errno: Int32
    public var description: String { "errno \(errno)" }
}
