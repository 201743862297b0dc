/// An error of the state service; mapped to a gRPC status only at the edge.
public struct DBOSError: Error, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidArgument, notFound, aborted, failedPrecondition, unavailable, alreadyExists, internalError, resourceExhausted
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The request itself is wrong (empty id, unknown state, oversize payload…).
        public static let invalidArgument = Code(.invalidArgument)
        public static let notFound = Code(.notFound)
        /// A version conflict: the caller read an older version (the current state is attached).
        public static let aborted = Code(.aborted)
        /// An illegal transition, or a stale lease token.
        public static let failedPrecondition = Code(.failedPrecondition)
        /// Redis is unreachable, or the outcome of a write is unknown.
        public static let unavailable = Code(.unavailable)
        public static let alreadyExists = Code(.alreadyExists)
        public static let internalError = Code(.internalError)
        /// Redis is full (`maxmemory`): nothing was written.
        public static let resourceExhausted = Code(.resourceExhausted)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String
    /// The current module state, for `aborted` and illegal transitions.
    public var currentState: ModuleState?
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, currentState: ModuleState? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.currentState = currentState
        self.cause = cause
    }

    public var description: String {
        var text = "DBOS \(code): \(message)"
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}
