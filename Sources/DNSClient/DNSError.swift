/// Why a DNS query failed, in words an operator can act on.
public enum DNSError: Error, Equatable, CustomStringConvertible {
    /// The query name is not a domain name (a label over 63 bytes, a name over 255, …).
    case badName(String, reason: String)
    /// A record type or class this client does not know.
    case unknownType(String)
    /// The resolver's address or port is not usable.
    case badResolver(String)
    /// No answer after every try.
    case timeout(resolver: String, tries: Int, seconds: Double)
    /// The answer's bytes are not a DNS message (or not one answering our question).
    case malformed(String)
    /// A socket call failed (connection refused, network unreachable, …).
    case transport(String)

    public var description: String {
        switch self {
        case .badName(let name, let reason): "\"\(name)\" is not a domain name: \(reason)"
        case .unknownType(let type): "unknown record type or class \(type)"
        case .badResolver(let resolver): "resolver \"\(resolver)\" is not an address or address:port"
        case .timeout(let resolver, let tries, let seconds): "no answer from \(resolver) after \(tries) tries of \(seconds) s"
        case .malformed(let detail): "malformed DNS answer: \(detail)"
        case .transport(let detail): detail
        }
    }
}
