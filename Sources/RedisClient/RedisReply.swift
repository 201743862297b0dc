/// One reply from Redis (RESP2, which is what hiredis 0.14 speaks).
///
/// A server error (`-ERR …`, `-NOSCRIPT …`) is a reply like any other, not a connection failure:
/// the connection stays usable after it.
public enum RedisReply: Sendable, Hashable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    case error(String)
}

extension RedisReply {
    /// The reply as text when it is a bulk string or a status.
    public var text: String? {
        switch self {
        case .string(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let status): status
        default: nil
        }
    }

    public var bytes: [UInt8]? {
        if case .string(let bytes) = self { return bytes }
        return nil
    }

    /// The reply as an integer when it is an integer, or a bulk string holding one (as `GET` returns).
    public var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .string(let bytes): Int64(String(decoding: bytes, as: UTF8.self))
        default: nil
        }
    }

    public var array: [RedisReply]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// The reply, or a thrown ``RedisError`` with code `.server` when Redis answered with an error.
    public func unwrapped() throws(RedisError) -> RedisReply {
        if case .error(let message) = self { throw RedisError(.server, message) }
        return self
    }
}
