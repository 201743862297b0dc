import IMNCore

/// Why the ledger refused or could not finish something. Typed inside the server; only the edge
/// (``Problem/init(_:)``) turns it into an HTTP status.
struct LedgerError: Error, CustomStringConvertible {
    enum Code: Sendable, Hashable {
        /// The body or selection is not valid: one violation per problem, with a pointer.
        case invalidRequest
        /// No such measurement (or agent, for a single-run request).
        case notFound
        /// The agent named for a single run is not alive.
        case agentNotAlive
        /// The agent refused the command (its reason is in the message).
        case rejected
        /// The agent did not answer the command (no responders, a timeout).
        case agentUnreachable
        /// DBOS could not be reached or did not finish.
        case stateUnavailable
        /// The caller's token has as many runs in flight as it may.
        case tooManyInFlight
    }

    var code: Code
    var message: String
    var violations: [SchemaViolation] = []

    init(_ code: Code, _ message: String, violations: [SchemaViolation] = []) {
        self.code = code
        self.message = message
        self.violations = violations
    }

    var description: String { "\(code): \(message)" }
}

extension Problem {
    init(_ error: LedgerError) {
        switch error.code {
        case .invalidRequest:
            self.init(status: .unprocessableContent, title: "Invalid measurement", detail: error.message, errors: error.violations)
        case .notFound: self.init(status: .notFound, title: "Not found", detail: error.message)
        case .agentNotAlive: self.init(status: .conflict, title: "Agent not alive", detail: error.message)
        case .rejected: self.init(status: .conflict, title: "Rejected by the agent", detail: error.message, errors: error.violations)
        case .agentUnreachable: self.init(status: .serviceUnavailable, title: "Agent unreachable", detail: error.message)
        case .stateUnavailable: self.init(status: .serviceUnavailable, title: "State service unavailable", detail: error.message)
        case .tooManyInFlight:
            self.init(status: .tooManyRequests, title: "Too many measurements in flight", detail: error.message, headers: .retryAfter(seconds: 1))
        }
    }
}
