import IMNCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Loopback ports for test servers.
public enum FreePort {
    /// Ports handed out by this process, below the kernel's ephemeral range (32768–60999) so that
    /// client sockets do not take them, and never the same one twice: two tests that ran in
    /// parallel could otherwise be given the same free port and end up sharing one server.
    private static let nextCandidate = Mutex(10_000 + Int.random(in: 0..<2_000) * 10)

    /// A TCP port on 127.0.0.1 that is free now and was not handed out before by this process.
    public static func next() -> Int {
        for _ in 0..<1000 {
            let candidate = nextCandidate.withLock { value -> Int in
                defer { value = value >= 32_000 ? 10_000 : value + 1 }
                return value
            }
            if canBind(candidate) { return candidate }
        }
        return 20_000 + Int.random(in: 0..<10_000)
    }

    static func canBind(_ port: Int) -> Bool {
        withLoopbackSocket(port: port) { fd, address, length in bind(fd, address, length) == 0 }
    }

    /// True when something accepts TCP connections on 127.0.0.1:`port`.
    public static func isAccepting(_ port: Int) -> Bool {
        withLoopbackSocket(port: port) { fd, address, length in connect(fd, address, length) == 0 }
    }

    /// Calls `body` with a new TCP socket and the address 127.0.0.1:`port`; closes the socket after.
    private static func withLoopbackSocket(
        port: Int, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool
    ) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return Loopback.withAddress(port: port) { body(fd, $0, $1) }
    }
}
