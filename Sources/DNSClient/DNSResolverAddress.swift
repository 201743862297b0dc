import Glibc

/// Where a query goes: an IPv4 or IPv6 address and a port.
public struct DNSResolverAddress: Sendable, Equatable, CustomStringConvertible {
    public var address: String
    public var port: Int
    /// The 4 or 16 address bytes (for a target policy).
    public var bytes: [UInt8]

    public var isIPv6: Bool { bytes.count == 16 }
    public var description: String { isIPv6 ? "[\(address)]:\(port)" : "\(address):\(port)" }

    /// `192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353`.
    public init(_ text: String) throws(DNSError) {
        var host = text
        var port = 53
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let number = Int(rest.dropFirst()) else { throw .badResolver(text) }
                port = number
            }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = String(text[..<colon])
            guard let number = Int(text[text.index(after: colon)...]) else { throw .badResolver(text) }
            port = number
        }
        guard (1...65535).contains(port), let bytes = Self.parse(host) else { throw .badResolver(text) }
        self.address = host
        self.port = port
        self.bytes = bytes
    }

    /// The first `nameserver` of `/etc/resolv.conf` (or `file`).
    public static func system(file: String = "/etc/resolv.conf") throws(DNSError) -> DNSResolverAddress {
        guard let handle = fopen(file, "r") else { throw .badResolver("no \(file) to find the system's resolver in") }
        defer { fclose(handle) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, handle) > 0, let line {
            let words = String(cString: line).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            if words.count >= 2, words[0] == "nameserver" {
                // A scoped link-local address (fe80::1%eth0) cannot be given a port here: skip it.
                if let resolver = try? DNSResolverAddress(String(words[1])) { return resolver }
            }
        }
        throw .badResolver("no nameserver in \(file)")
    }

    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// The socket address, for connect.
    func withSocketAddress<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        if isIPv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: bytes) }
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: bytes) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
