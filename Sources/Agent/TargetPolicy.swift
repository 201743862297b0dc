import FoundationEssentials
import Glibc
import IMNCore

/// Which addresses the agent's probes may reach. After DNS resolution, private, loopback,
/// link-local, multicast, unspecified and other special-purpose addresses (IPv4 and IPv6,
/// IPv4-mapped IPv6 included) are refused unless an allowed CIDR covers them, so a measurement
/// request cannot be used to scan the network the agent sits in.
public struct TargetPolicy: Sendable, Equatable {
    /// Ranges allowed even though they are special-purpose.
    public var allowed: [CIDR]

    public init(allowed: [CIDR] = []) { self.allowed = allowed }

    /// From a comma-separated CIDR list (`127.0.0.0/8,::1/128`); a bare address is a /32 or /128.
    public init(allowing list: String) throws {
        allowed = try list.split(separator: ",").map { try CIDR(String($0).trimmed) }
    }

    /// Public addresses only (the agent's default).
    public static let publicOnly = TargetPolicy()
    /// Everything, special-purpose addresses included (tests, closed labs).
    public static let anything = TargetPolicy(allowed: [
        CIDR(bytes: [0, 0, 0, 0], prefix: 0), CIDR(bytes: Array(repeating: 0, count: 16), prefix: 0),
    ])

    /// Refused ranges with the name a refusal gives.
    static let refused: [(CIDR, String)] = [
        ("0.0.0.0/8", "unspecified (this network)"), ("10.0.0.0/8", "private"), ("100.64.0.0/10", "shared address space (CGNAT)"),
        ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local"), ("172.16.0.0/12", "private"), ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.168.0.0/16", "private"), ("198.18.0.0/15", "benchmarking"), ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"), ("::1/128", "loopback"), ("fc00::/7", "unique local (private)"), ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
    ].compactMap { range, kind in (try? CIDR(range)).map { ($0, kind) } }  // all 16 parse (TargetPolicyTests)

    /// Throws a module error naming the policy when `address` (resolved from `host`) is refused.
    func check(_ address: [UInt8], host: String, text: String) throws(ModuleError) {
        // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged as the IPv4 address it carries.
        let judged =
            address.count == 16 && address.prefix(10).allSatisfy { $0 == 0 } && address[10] == 0xff && address[11] == 0xff
            ? Array(address.suffix(4)) : address
        guard let (range, kind) = Self.refused.first(where: { $0.0.contains(judged) }) else { return }
        if allowed.contains(where: { $0.contains(judged) || $0.contains(address) }) { return }
        let shown = host == text ? text : "\(host) (\(text))"
        throw ModuleError(
            "target \(shown) refused by the agent's target policy: \(kind) address (\(range)); "
                + "the operator can allow it with imn agent --allow-targets \(range)")
    }
}

/// An IPv4 or IPv6 range.
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    public let bytes: [UInt8]
    public let prefix: Int

    init(bytes: [UInt8], prefix: Int) {
        self.bytes = bytes
        self.prefix = prefix
    }

    public init(_ text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let bytes = Self.parse(String(parts[0])) else {
            throw ModuleError("\"\(text)\" is not a CIDR range like 10.0.0.0/8 or fd00::/8")
        }
        let length = parts.count == 2 ? Int(parts[1]) : bytes.count * 8
        guard let length, (0...bytes.count * 8).contains(length) else {
            throw ModuleError("\"\(text)\": the prefix length must be 0–\(bytes.count * 8)")
        }
        self.bytes = bytes
        self.prefix = length
    }

    /// The 4 or 16 bytes of a numeric address, or nil.
    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    public func contains(_ address: [UInt8]) -> Bool {
        guard address.count == bytes.count else { return false }
        var left = prefix
        for (mine, theirs) in zip(bytes, address) where left > 0 {
            let bits = min(8, left)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if mine & mask != theirs & mask { return false }
            left -= bits
        }
        return true
    }

    public var description: String {
        var copy = bytes
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = inet_ntop(family, &copy, &buffer, socklen_t(buffer.count))
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/\(prefix)"
    }
}
