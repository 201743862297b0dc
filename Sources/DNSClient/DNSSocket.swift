import Glibc

/// A connected UDP or TCP socket to one resolver, closed on deinit.
final class DNSSocket {
    struct Sent {
        var realtime: timespec
        var monotonic: ContinuousClock.Instant
    }

    struct Datagram {
        var bytes: [UInt8]
        var kernelTime: timespec?
        var arrived: ContinuousClock.Instant

        /// From the send to the kernel's receive stamp, unless the wall clock jumped between.
        func time(since sent: Sent) -> Duration {
            let monotonic = arrived - sent.monotonic
            guard let kernelTime else { return monotonic }
            let stamped = Duration.seconds(kernelTime.tv_sec - sent.realtime.tv_sec) + .nanoseconds(kernelTime.tv_nsec - sent.realtime.tv_nsec)
            return stamped > .zero && stamped <= monotonic + .milliseconds(1) ? stamped : monotonic
        }
    }

    let fd: Int32
    let resolver: DNSResolverAddress
    static let soTimestampNS: Int32 = 35  // SO_TIMESTAMPNS, a macro Swift cannot import

    init(_ resolver: DNSResolverAddress, type: __socket_type, connectBy deadline: ContinuousClock.Instant? = nil) throws(DNSError) {
        self.resolver = resolver
        let fd = socket(resolver.isIPv6 ? AF_INET6 : AF_INET, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .transport("cannot open a socket: \(String(cString: strerror(errno)))") }
        self.fd = fd
        var on: Int32 = 1
        if type == SOCK_DGRAM {
            setsockopt(fd, SOL_SOCKET, Self.soTimestampNS, &on, socklen_t(MemoryLayout<Int32>.size))
        } else {
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        let result = resolver.withSocketAddress { connect(fd, $0, $1) }
        if result != 0 && errno != EINPROGRESS { throw .transport("cannot reach \(resolver): \(String(cString: strerror(errno)))") }
        if result != 0, let deadline {
            guard try wait(for: Int16(POLLOUT), by: deadline) else { throw .timeout(resolver: resolver.description, tries: 1, seconds: 0) }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else { throw .transport("TCP connection to \(resolver) failed: \(String(cString: strerror(error)))") }
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws(DNSError) -> Sent {
        var realtime = timespec()
        clock_gettime(CLOCK_REALTIME, &realtime)
        let monotonic = ContinuousClock.now
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress.map { $0 + offset }, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if written < 0 && (errno == EAGAIN || errno == EINTR) {
                _ = try? wait(for: Int16(POLLOUT), by: ContinuousClock.now + .seconds(1))
                continue
            }
            guard written > 0 else { throw .transport("sending to \(resolver) failed: \(String(cString: strerror(errno)))") }
            offset += written
        }
        return Sent(realtime: realtime, monotonic: monotonic)
    }

    /// A datagram already queued, or nil. An ICMP error (port unreachable) surfaces here as
    /// connection refused.
    func receiveWaiting() throws(DNSError) -> Datagram? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var control = [UInt8](repeating: 0, count: 128)
        var controlLength = 0
        let received = buffer.withUnsafeMutableBytes { data -> Int in
            control.withUnsafeMutableBytes { controlBytes -> Int in
                var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer -> Int in
                    var header = msghdr()
                    header.msg_iov = vectorPointer
                    header.msg_iovlen = 1
                    header.msg_control = controlBytes.baseAddress
                    header.msg_controllen = controlBytes.count
                    let count = recvmsg(fd, &header, Int32(MSG_DONTWAIT))
                    controlLength = Int(header.msg_controllen)
                    return count
                }
            }
        }
        let arrived = ContinuousClock.now
        guard received >= 0 else {
            if errno == EAGAIN || errno == EINTR { return nil }
            throw .transport("no DNS service at \(resolver): \(String(cString: strerror(errno)))")
        }
        var kernelTime: timespec?
        let headerSize = MemoryLayout<cmsghdr>.size
        if controlLength >= headerSize {
            let header = control.withUnsafeBytes { $0.loadUnaligned(as: cmsghdr.self) }
            let dataStart = (headerSize + MemoryLayout<Int>.size - 1) / MemoryLayout<Int>.size * MemoryLayout<Int>.size
            if header.cmsg_level == SOL_SOCKET, header.cmsg_type == Self.soTimestampNS, controlLength >= dataStart + MemoryLayout<timespec>.size {
                kernelTime = control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: dataStart, as: timespec.self) }
            }
        }
        return Datagram(bytes: Array(buffer.prefix(received)), kernelTime: kernelTime, arrived: arrived)
    }

    /// Exactly `count` bytes from the stream, by `deadline`.
    func read(_ count: Int, by deadline: ContinuousClock.Instant, resolver: DNSResolverAddress) throws(DNSError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            guard try wait(for: Int16(POLLIN), by: deadline) else { throw .timeout(resolver: resolver.description, tries: 1, seconds: 0) }
            let got = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress.map { $0 + offset }, count - offset, 0) }
            if got < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            guard got > 0 else {
                throw got == 0
                    ? .malformed("the TCP connection closed after \(offset) of \(count) bytes")
                    : .transport("reading from \(resolver) failed: \(String(cString: strerror(errno)))")
            }
            offset += got
        }
        return bytes
    }

    /// True when `events` is ready before `deadline`.
    func wait(for events: Int16, by deadline: ContinuousClock.Instant) throws(DNSError) -> Bool {
        let left = deadline - ContinuousClock.now
        guard left > .zero else { return false }
        var descriptor = pollfd(fd: fd, events: events, revents: 0)
        let milliseconds = Int32(min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
        let ready = poll(&descriptor, 1, milliseconds)
        if ready < 0 && errno != EINTR { throw .transport("poll failed: \(String(cString: strerror(errno)))") }
        return ready > 0
    }
}
