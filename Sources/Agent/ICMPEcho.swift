import FoundationEssentials
import Glibc

/// ICMP echo over one socket: an unprivileged datagram socket where
/// `net.ipv4.ping_group_range` allows it, a raw socket with CAP_NET_RAW otherwise. Receive
/// times come from the kernel (`SO_TIMESTAMPNS`); send times are taken just before `sendto`.
/// Blocking: runs on a probe thread.
final class ICMPEcho {
    struct Reply {
        var sequence: UInt16
        var rtt: Duration
        var ttl: Int?
    }

    let fd: Int32
    let raw: Bool
    let ipv6: Bool
    let identifier: UInt16
    let token: UInt64 = .random(in: 1...UInt64.max)

    // Linux x86-64 values that glibc defines through macros Swift cannot import.
    static let soTimestampNS: Int32 = 35
    static let ipRecvTTL: Int32 = 12
    static let ipTTL: Int32 = 2
    static let ipv6RecvHopLimit: Int32 = 51
    static let ipv6HopLimit: Int32 = 52

    init(ipv6: Bool) throws {
        self.ipv6 = ipv6
        let domain = ipv6 ? AF_INET6 : AF_INET
        let proto = ipv6 ? Int32(IPPROTO_ICMPV6) : Int32(IPPROTO_ICMP)
        var socketFD = socket(domain, Int32(SOCK_DGRAM.rawValue), proto)
        var isRaw = false
        if socketFD < 0 {
            socketFD = socket(domain, Int32(SOCK_RAW.rawValue), proto)
            isRaw = true
        }
        guard socketFD >= 0 else {
            throw ModuleError(
                "cannot open an ICMP socket (\(String(cString: strerror(errno)))): allow unprivileged ping with "
                    + "`sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"` or give imn CAP_NET_RAW (`setcap cap_net_raw+ep imn`)")
        }
        fd = socketFD
        raw = isRaw
        identifier = UInt16.random(in: 1...UInt16.max)
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, Self.soTimestampNS, &on, socklen_t(MemoryLayout<Int32>.size))
        if ipv6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), Self.ipv6RecvHopLimit, &on, socklen_t(MemoryLayout<Int32>.size))
        } else {
            setsockopt(fd, Int32(IPPROTO_IP), Self.ipRecvTTL, &on, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    deinit { close(fd) }

    var kind: String { raw ? "raw" : "datagram" }

    /// Sends echo request `sequence` with `size` payload bytes; returns the send time
    /// (realtime, to compare with the kernel's receive stamp, and monotonic, to check it).
    func send(to address: ResolvedAddress, sequence: UInt16, size: Int) throws -> (realtime: timespec, monotonic: ContinuousClock.Instant) {
        var packet = [UInt8](repeating: 0, count: 8 + max(size, 16))
        packet[0] = ipv6 ? 128 : 8
        packet[4] = UInt8(identifier >> 8)
        packet[5] = UInt8(identifier & 0xFF)
        packet[6] = UInt8(sequence >> 8)
        packet[7] = UInt8(sequence & 0xFF)
        withUnsafeBytes(of: token.bigEndian) { packet.replaceSubrange(8..<16, with: $0) }
        for index in 16..<packet.count { packet[index] = UInt8(truncatingIfNeeded: index) }
        if !ipv6 {
            // ICMPv4 needs our checksum (the kernel fills it in only for datagram sockets; harmless there).
            let sum = Self.checksum(packet)
            packet[2] = UInt8(sum >> 8)
            packet[3] = UInt8(sum & 0xFF)
        }
        var storage = address.storage
        var realtime = timespec()
        clock_gettime(CLOCK_REALTIME, &realtime)
        let monotonic = ContinuousClock.now
        let sent = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                packet.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, target, address.length) }
            }
        }
        guard sent == packet.count else { throw ModuleError("sending to \(address.text) failed: \(String(cString: strerror(errno)))") }
        return (realtime, monotonic)
    }

    /// Waits up to `timeout` for a packet; returns our echo reply if it is one (nil for
    /// anything else, or nothing in time).
    func receive(timeout: Duration) -> (sequence: UInt16, kernelTime: timespec?, ttl: Int?, arrived: ContinuousClock.Instant)? {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = max(0, Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        guard poll(&descriptor, 1, milliseconds) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 2048)
        var control = [UInt8](repeating: 0, count: 512)
        var source = sockaddr_storage()
        var controlLength = 0
        let received = buffer.withUnsafeMutableBytes { data -> Int in
            control.withUnsafeMutableBytes { controlBytes -> Int in
                withUnsafeMutablePointer(to: &source) { sourcePointer -> Int in
                    var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer -> Int in
                        var header = msghdr()
                        header.msg_name = UnsafeMutableRawPointer(sourcePointer)
                        header.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                        header.msg_iov = vectorPointer
                        header.msg_iovlen = 1
                        header.msg_control = controlBytes.baseAddress
                        header.msg_controllen = controlBytes.count
                        let count = recvmsg(fd, &header, 0)
                        controlLength = Int(header.msg_controllen)
                        return count
                    }
                }
            }
        }
        let arrived = ContinuousClock.now
        guard received > 0 else { return nil }
        control.removeLast(max(0, control.count - controlLength))
        var icmp = buffer[0..<received]
        if raw && !ipv6 {
            let headerLength = Int(icmp[icmp.startIndex] & 0x0F) * 4  // raw IPv4 sockets include the IP header
            guard received > headerLength else { return nil }
            icmp = icmp.dropFirst(headerLength)
        }
        let bytes = Array(icmp)
        guard bytes.count >= 16, bytes[0] == (ipv6 ? 129 : 0) else { return nil }
        let replyIdentifier = UInt16(bytes[4]) << 8 | UInt16(bytes[5])
        // Datagram sockets get only their own replies (the kernel rewrites the identifier).
        if raw && replyIdentifier != identifier { return nil }
        let replyToken = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard replyToken == token else { return nil }
        let sequence = UInt16(bytes[6]) << 8 | UInt16(bytes[7])
        var kernelTime: timespec?
        var ttl: Int?
        Self.forEachControlMessage(control) { level, type, data in
            if level == SOL_SOCKET && type == Self.soTimestampNS && data.count >= MemoryLayout<timespec>.size {
                kernelTime = data.withUnsafeBytes { $0.loadUnaligned(as: timespec.self) }
            } else if (level == Int32(IPPROTO_IP) && type == Self.ipTTL) || (level == Int32(IPPROTO_IPV6) && type == Self.ipv6HopLimit),
                data.count >= 4
            {
                ttl = Int(data.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) })
            }
        }
        return (sequence, kernelTime, ttl, arrived)
    }

    /// Walks the control messages of a `recvmsg` (the CMSG_* macros by hand).
    static func forEachControlMessage(_ control: [UInt8], _ body: (Int32, Int32, ArraySlice<UInt8>) -> Void) {
        let headerSize = MemoryLayout<cmsghdr>.size
        let align = MemoryLayout<Int>.size
        var offset = 0
        while offset + headerSize <= control.count {
            let header = control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: cmsghdr.self) }
            let length = Int(header.cmsg_len)
            guard length >= headerSize, offset + length <= control.count else { return }
            let dataStart = offset + (headerSize + align - 1) / align * align
            body(header.cmsg_level, header.cmsg_type, control[min(dataStart, offset + length)..<(offset + length)])
            offset += (length + align - 1) / align * align
        }
    }

    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
