import FoundationEssentials
import Glibc

/// A target resolved by the agent (the resolved address is reported with every result).
struct ResolvedAddress: Sendable {
    var storage: sockaddr_storage
    var length: socklen_t
    var text: String

    var isIPv6: Bool { Int32(storage.ss_family) == AF_INET6 }
    var family: String { isIPv6 ? "ipv6" : "ipv4" }

    /// The address bytes (4 for IPv4, 16 for IPv6).
    var bytes: [UInt8] {
        var storage = self.storage
        return withUnsafeBytes(of: &storage) { raw in
            if isIPv6 {
                var address = raw.load(as: sockaddr_in6.self).sin6_addr
                return withUnsafeBytes(of: &address) { Array($0) }
            }
            var address = raw.load(as: sockaddr_in.self).sin_addr
            return withUnsafeBytes(of: &address) { Array($0) }
        }
    }

    /// The first address of `host` (a literal IPv4/IPv6 address, or a name), checked against
    /// `policy` after resolution. Blocking: call on a probe thread.
    static func resolve(_ host: String, policy: TargetPolicy) throws -> ResolvedAddress {
        let address = try resolve(host)
        try policy.check(address.bytes, host: host, text: address.text)
        return address
    }

    private static func resolve(_ host: String) throws -> ResolvedAddress {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_ADDRCONFIG
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &results)
        guard status == 0, let first = results else {
            throw ModuleError("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(results) }
        guard let socketAddress = first.pointee.ai_addr else { throw ModuleError("cannot resolve \(host): no address") }
        var storage = sockaddr_storage()
        let length = first.pointee.ai_addrlen
        withUnsafeMutableBytes(of: &storage) { destination in
            destination.copyMemory(from: UnsafeRawBufferPointer(start: socketAddress, count: Int(length)))
        }
        return ResolvedAddress(storage: storage, length: length, text: numericHost(socketAddress, length))
    }

    static func numericHost(_ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> String {
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(address, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 else { return "?" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The address with `port` set.
    func with(port: Int) -> ResolvedAddress {
        var copy = self
        withUnsafeMutableBytes(of: &copy.storage) { raw in
            if isIPv6 {
                raw.baseAddress?.assumingMemoryBound(to: sockaddr_in6.self).pointee.sin6_port = in_port_t(UInt16(port).bigEndian)
            } else {
                raw.baseAddress?.assumingMemoryBound(to: sockaddr_in.self).pointee.sin_port = in_port_t(UInt16(port).bigEndian)
            }
        }
        return copy
    }
}

/// One TCP connect attempt, timed with the monotonic clock.
enum TCPConnect {
    struct Attempt: Sendable {
        var status: String
        var rtt: Duration?
        var detail: String?
    }

    static func attempt(_ target: ResolvedAddress, port: Int, timeout: Double) -> Attempt {
        let address = target.with(port: port)
        let fd = socket(target.isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return Attempt(status: "error", detail: String(cString: strerror(errno))) }
        defer { close(fd) }
        let clock = ContinuousClock()
        let start = clock.now
        var storage = address.storage
        let result = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, address.length) }
        }
        if result == 0 { return Attempt(status: "ok", rtt: clock.now - start) }
        guard errno == EINPROGRESS else { return classify(errno) }
        var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&descriptor, 1, Int32(timeout * 1000))
        let elapsed = clock.now - start
        if ready == 0 { return Attempt(status: "timeout", detail: "no answer within \(timeout) s") }
        if ready < 0 { return classify(errno) }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        return error == 0 ? Attempt(status: "ok", rtt: elapsed) : classify(error)
    }

    static func classify(_ code: Int32) -> Attempt {
        let detail = String(cString: strerror(code))
        switch code {
        case ECONNREFUSED: return Attempt(status: "refused", detail: detail)
        case ETIMEDOUT: return Attempt(status: "timeout", detail: detail)
        case ENETUNREACH, EHOSTUNREACH, ENETDOWN, EHOSTDOWN: return Attempt(status: "unreachable", detail: detail)
        default: return Attempt(status: "error", detail: detail)
        }
    }
}
