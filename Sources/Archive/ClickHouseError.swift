/// What a call to ClickHouse can end in, besides its answer.
public enum ClickHouseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No answer: refused, reset, timed out. The call may be tried again later.
    case unreachable(String)
    /// ClickHouse answered with an error: its HTTP status and the first line of its message
    /// (`Code: 62, e.displayText() = DB::Exception: Syntax error …`).
    case refused(status: Int, message: String)
    /// An answer that is not what the query asked for.
    case badAnswer(String)

    /// ClickHouse's own error code (`Code: N`), when it gave one.
    public var code: Int? {
        guard case .refused(_, let message) = self, message.hasPrefix("Code: ") else { return nil }
        return Int(message.dropFirst(6).prefix { $0.isNumber })
    }

    public var description: String {
        switch self {
        case .unreachable(let reason): "ClickHouse is unreachable: \(reason)"
        case .refused(let status, let message): "ClickHouse refused the query (HTTP \(status)): \(message)"
        case .badAnswer(let reason): "ClickHouse's answer could not be read: \(reason)"
        }
    }
}
