#if canImport(Glibc)
    import Glibc
#endif

/// The raw-socket plumbing for 127.0.0.1, shared by `imn up`'s readiness checks and the test
/// helpers.
public enum Loopback {
    /// Calls `body` with 127.0.0.1:`port` as a socket address.
    public static func withAddress<T>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> T) rethrows -> T {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// A new TCP socket connected to 127.0.0.1:`port` (the caller closes it), or nil.
    public static func connect(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        guard withAddress(port: port, { Glibc.connect(fd, $0, $1) == 0 }) else {
            close(fd)
            return nil
        }
        return fd
    }
}
