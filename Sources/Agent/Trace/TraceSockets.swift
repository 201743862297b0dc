import FoundationEssentials
import Glibc

/// How traceroute probes are sent.
enum TraceProtocol: String, Sendable {
    case icmp, udp, tcp
}

/// What came back for one probe.
struct TraceAnswer: Sendable {
    var probe: Int
    var responder: String
    var kernelTime: timespec?
    var arrived: ContinuousClock.Instant
    /// ICMP type and code, nil for a TCP answer.
    var icmpType: Int?
    var icmpCode: Int?
    /// `SYN-ACK` or `RST` when the target answered a TCP probe.
    var tcpFlags: String?
    /// The TTL (hop limit) the answer arrived with.
    var replyTTL: Int?
    /// The target itself answered (echo reply, its port unreachable, its TCP answer).
    var reached: Bool
}

/// The sockets of one traceroute or MTR run, Paris-style: every probe of a run has the same
/// flow identifier (ICMP identifier and checksum, or UDP/TCP ports), so per-flow load
/// balancers keep it on one path; probes are told apart by the ICMP sequence, the UDP
/// checksum (or payload) and the TCP sequence number. Needs raw sockets (root or
/// CAP_NET_RAW). Blocking: runs on a probe thread.
final class TraceSockets {
    let target: ResolvedAddress
    let mode: TraceProtocol
    let port: Int
    let ipv6: Bool
    /// Raw ICMP (ICMPv6): sends ICMP probes, receives every ICMP answer.
    private let icmpFD: Int32
    /// UDP probes, or raw TCP (SYNs out, SYN-ACK/RST in); -1 in ICMP mode.
    private let probeFD: Int32
    private let identifier = UInt16.random(in: 1...UInt16.max)
    private let sequenceBase = UInt32.random(in: 0...(UInt32.max / 2))
    private var sourcePort: UInt16 = 0
    private var source: [UInt8] = []
    /// Expected UDP checksum → probe, for answers that quote only the UDP header.
    private var udpChecksums: [UInt16: Int] = [:]
    static let payloadSize = 32

    // Linux values that glibc defines through macros Swift cannot import.
    static let ipTTL: Int32 = 2
    static let ipv6UnicastHops: Int32 = 16
    static let ipv6RecvHopLimit: Int32 = 51
    static let ipv6HopLimit: Int32 = 52
    static let ipv6Checksum: Int32 = 7

    init(target: ResolvedAddress, mode: TraceProtocol, port: Int) throws(ModuleError) {
        self.target = target
        self.mode = mode
        self.port = port
        ipv6 = target.isIPv6
        let domain = ipv6 ? AF_INET6 : AF_INET
        icmpFD = socket(domain, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), ipv6 ? Int32(IPPROTO_ICMPV6) : Int32(IPPROTO_ICMP))
        guard icmpFD >= 0 else {
            throw ModuleError(
                "cannot open a raw ICMP socket (\(String(cString: strerror(errno)))): traceroute and mtr need root or CAP_NET_RAW "
                    + "(`setcap cap_net_raw+ep imn`)")
        }
        switch mode {
        case .icmp: probeFD = -1
        case .udp: probeFD = socket(domain, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        case .tcp: probeFD = socket(domain, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_TCP))
        }
        if mode != .icmp && probeFD < 0 {
            close(icmpFD)
            throw ModuleError("cannot open a \(mode.rawValue) probe socket: \(String(cString: strerror(errno)))")
        }
        var on: Int32 = 1
        for fd in [icmpFD, probeFD] where fd >= 0 {
            setsockopt(fd, SOL_SOCKET, ICMPEcho.soTimestampNS, &on, socklen_t(MemoryLayout<Int32>.size))
            if ipv6 { setsockopt(fd, Int32(IPPROTO_IPV6), Self.ipv6RecvHopLimit, &on, socklen_t(MemoryLayout<Int32>.size)) }
        }
        if mode == .tcp && ipv6 {
            var offset: Int32 = 16  // the kernel fills in the TCP checksum of raw IPv6 segments
            setsockopt(probeFD, Int32(IPPROTO_IPV6), Self.ipv6Checksum, &offset, socklen_t(MemoryLayout<Int32>.size))
        }
        do throws(ModuleError) {
            source = try Self.sourceAddress(toward: target)
            sourcePort = try bindSourcePort()
        } catch {
            close(icmpFD)
            if probeFD >= 0 { close(probeFD) }
            throw error
        }
    }

    deinit {
        close(icmpFD)
        if probeFD >= 0 { close(probeFD) }
    }

    /// The local address the kernel would use toward `target` (for UDP and TCP checksums).
    static func sourceAddress(toward target: ResolvedAddress) throws(ModuleError) -> [UInt8] {
        let fd = socket(target.isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw ModuleError("cannot open a socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = target.with(port: 33434).storage
        let length = target.length
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } }
        guard connected == 0 else { throw ModuleError("no route to \(target.text): \(String(cString: strerror(errno)))") }
        var local = sockaddr_storage()
        var localLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &localLength) } }
        return ResolvedAddress(storage: local, length: localLength, text: "").bytes
    }

    /// UDP: the port the kernel gives our socket. TCP: a random high port (raw SYNs use no
    /// socket; the kernel answers the target's SYN-ACK with a RST, as for any unknown port).
    private func bindSourcePort() throws(ModuleError) -> UInt16 {
        switch mode {
        case .icmp: return 0
        case .tcp: return UInt16.random(in: 33000...60999)
        case .udp:
            var any = sockaddr_storage()
            any.ss_family = sa_family_t(ipv6 ? AF_INET6 : AF_INET)
            let length = socklen_t(ipv6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &any) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probeFD, $0, length) } }
            guard bound == 0 else { throw ModuleError("cannot bind a UDP socket: \(String(cString: strerror(errno)))") }
            var local = sockaddr_storage()
            var localLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(probeFD, $0, &localLength) }
            }
            return withUnsafeBytes(of: &local) { raw in UInt16(raw[2]) << 8 | UInt16(raw[3]) }  // sin_port and sin6_port sit at offset 2
        }
    }

    /// Sends probe `probe` with `ttl`; returns the send time (realtime, for the kernel's
    /// receive stamp, and monotonic).
    func send(probe: Int, ttl: Int) throws(ModuleError) -> (realtime: timespec, monotonic: ContinuousClock.Instant) {
        let fd = mode == .icmp ? icmpFD : probeFD
        var hops = Int32(ttl)
        if ipv6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), Self.ipv6UnicastHops, &hops, socklen_t(MemoryLayout<Int32>.size))
        } else {
            setsockopt(fd, Int32(IPPROTO_IP), Self.ipTTL, &hops, socklen_t(MemoryLayout<Int32>.size))
        }
        let packet: [UInt8]
        switch mode {
        case .icmp: packet = echoRequest(probe)
        case .udp: packet = udpPayload(probe)
        case .tcp: packet = tcpSYN(probe)
        }
        // Raw TCP and ICMP sockets take the address without a port; UDP needs the port.
        var storage = (mode == .udp ? target.with(port: port) : target.with(port: 0)).storage
        var realtime = timespec()
        clock_gettime(CLOCK_REALTIME, &realtime)
        let monotonic = ContinuousClock.now
        let sent = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                packet.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, target.length) }
            }
        }
        guard sent == packet.count else { throw ModuleError("sending a probe to \(target.text) failed: \(String(cString: strerror(errno)))") }
        return (realtime, monotonic)
    }

    /// ICMP echo request, sequence = probe; two payload bytes hold the sequence's complement
    /// so the checksum (part of the flow for some balancers) is the same for every probe.
    private func echoRequest(_ probe: Int) -> [UInt8] {
        let sequence = UInt16(truncatingIfNeeded: probe)
        var packet = [UInt8](repeating: 0, count: 8 + Self.payloadSize)
        packet[0] = ipv6 ? 128 : 8
        packet[4] = UInt8(identifier >> 8)
        packet[5] = UInt8(identifier & 0xFF)
        packet[6] = UInt8(sequence >> 8)
        packet[7] = UInt8(sequence & 0xFF)
        packet[8] = UInt8(~sequence >> 8)
        packet[9] = UInt8(~sequence & 0xFF)
        for index in 10..<packet.count { packet[index] = UInt8(truncatingIfNeeded: 0x40 + index) }
        if !ipv6 {  // the kernel computes ICMPv6 checksums itself
            let sum = InternetChecksum.finish(InternetChecksum.add(packet))
            packet[2] = UInt8(sum >> 8)
            packet[3] = UInt8(sum & 0xFF)
        }
        return packet
    }

    /// UDP payload: the probe number, then filler. Remembers the checksum the kernel will
    /// compute, which identifies the probe when a router quotes only the UDP header.
    private func udpPayload(_ probe: Int) -> [UInt8] {
        var payload = [UInt8](repeating: 0, count: Self.payloadSize)
        payload[0] = UInt8(probe >> 8 & 0xFF)
        payload[1] = UInt8(probe & 0xFF)
        for index in 2..<payload.count { payload[index] = UInt8(truncatingIfNeeded: 0x40 + index) }
        let length = 8 + payload.count
        var sum = InternetChecksum.pseudoHeader(source: source, destination: target.bytes, protocol: 17, length: length)
        sum = InternetChecksum.add(
            [
                UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), UInt8(port >> 8 & 0xFF), UInt8(port & 0xFF), UInt8(length >> 8),
                UInt8(length & 0xFF), 0, 0,
            ],
            to: sum)
        var checksum = InternetChecksum.finish(InternetChecksum.add(payload, to: sum))
        if checksum == 0 { checksum = 0xFFFF }
        udpChecksums[checksum] = probe
        return payload
    }

    /// A TCP SYN from our source port to the target's, sequence number = base + probe.
    private func tcpSYN(_ probe: Int) -> [UInt8] {
        let sequence = sequenceBase &+ UInt32(probe)
        var segment: [UInt8] = [
            UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), UInt8(port >> 8 & 0xFF), UInt8(port & 0xFF),
            UInt8(sequence >> 24), UInt8(sequence >> 16 & 0xFF), UInt8(sequence >> 8 & 0xFF), UInt8(sequence & 0xFF),
            0, 0, 0, 0,  // acknowledgement
            0x50, 0x02,  // header length 20, SYN
            0xFA, 0xF0,  // window 64240
            0, 0, 0, 0,  // checksum, urgent pointer
        ]
        if !ipv6 {  // IPV6_CHECKSUM has the kernel do it for IPv6
            let sum = InternetChecksum.pseudoHeader(source: source, destination: target.bytes, protocol: 6, length: segment.count)
            let checksum = InternetChecksum.finish(InternetChecksum.add(segment, to: sum))
            segment[16] = UInt8(checksum >> 8)
            segment[17] = UInt8(checksum & 0xFF)
        }
        return segment
    }

    /// Waits up to `timeout` for answers; returns those that are ours (possibly none).
    func receive(timeout: Duration) -> [TraceAnswer] {
        var descriptors = [pollfd(fd: icmpFD, events: Int16(POLLIN), revents: 0)]
        if mode == .tcp { descriptors.append(pollfd(fd: probeFD, events: Int16(POLLIN), revents: 0)) }
        let milliseconds = max(0, Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        guard poll(&descriptors, nfds_t(descriptors.count), milliseconds) > 0 else { return [] }
        var answers: [TraceAnswer] = []
        for descriptor in descriptors where descriptor.revents & Int16(POLLIN) != 0 {
            // Drain what is queued without blocking.
            while let packet = Self.read(descriptor.fd) {
                let answer = descriptor.fd == icmpFD ? icmpAnswer(packet) : tcpAnswer(packet)
                if let answer { answers.append(answer) }
            }
        }
        return answers
    }

    struct Packet {
        var bytes: [UInt8]
        var from: String
        var fromBytes: [UInt8]
        var kernelTime: timespec?
        var hopLimit: Int?
        var arrived: ContinuousClock.Instant
    }

    static func read(_ fd: Int32) -> Packet? {
        var buffer = [UInt8](repeating: 0, count: 1500)
        var control = [UInt8](repeating: 0, count: 256)
        var source = sockaddr_storage()
        var sourceLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        var controlLength = 0
        let received = buffer.withUnsafeMutableBytes { data -> Int in
            control.withUnsafeMutableBytes { controlBytes -> Int in
                withUnsafeMutablePointer(to: &source) { sourcePointer -> Int in
                    var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer -> Int in
                        var header = msghdr()
                        header.msg_name = UnsafeMutableRawPointer(sourcePointer)
                        header.msg_namelen = sourceLength
                        header.msg_iov = vectorPointer
                        header.msg_iovlen = 1
                        header.msg_control = controlBytes.baseAddress
                        header.msg_controllen = controlBytes.count
                        let count = recvmsg(fd, &header, Int32(MSG_DONTWAIT))
                        controlLength = Int(header.msg_controllen)
                        sourceLength = header.msg_namelen
                        return count
                    }
                }
            }
        }
        let arrived = ContinuousClock.now
        guard received > 0 else { return nil }
        control.removeLast(max(0, control.count - controlLength))
        var kernelTime: timespec?
        var hopLimit: Int?
        ICMPEcho.forEachControlMessage(control) { level, type, data in
            if level == SOL_SOCKET && type == ICMPEcho.soTimestampNS && data.count >= MemoryLayout<timespec>.size {
                kernelTime = data.withUnsafeBytes { $0.loadUnaligned(as: timespec.self) }
            } else if level == Int32(IPPROTO_IPV6) && type == ipv6HopLimit && data.count >= 4 {
                hopLimit = Int(data.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) })
            }
        }
        let from = ResolvedAddress(storage: source, length: sourceLength, text: "")
        let text = withUnsafePointer(to: &source) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { ResolvedAddress.numericHost($0, sourceLength) }
        }
        return Packet(
            bytes: Array(buffer.prefix(received)), from: text, fromBytes: from.bytes, kernelTime: kernelTime, hopLimit: hopLimit, arrived: arrived)
    }

    /// An ICMP answer about one of our probes: an echo reply, or an error quoting the probe.
    private func icmpAnswer(_ packet: Packet) -> TraceAnswer? {
        var bytes = packet.bytes[...]
        var replyTTL = packet.hopLimit
        if !ipv6 {  // raw IPv4 sockets include the IP header
            guard let first = bytes.first else { return nil }
            let headerLength = Int(first & 0x0F) * 4
            guard bytes.count > headerLength + 8 else { return nil }
            replyTTL = Int(bytes[bytes.startIndex + 8])
            bytes = bytes.dropFirst(headerLength)
        }
        guard bytes.count >= 8 else { return nil }
        let type = Int(bytes[bytes.startIndex])
        let code = Int(bytes[bytes.startIndex + 1])
        let reachedByTarget = packet.fromBytes == target.bytes
        func answer(_ probe: Int, reached: Bool) -> TraceAnswer {
            TraceAnswer(
                probe: probe, responder: packet.from, kernelTime: packet.kernelTime, arrived: packet.arrived, icmpType: type, icmpCode: code,
                tcpFlags: nil, replyTTL: replyTTL, reached: reached)
        }
        let echoReply = ipv6 ? 129 : 0
        if type == echoReply {
            guard mode == .icmp, Self.word(bytes, 4) == identifier else { return nil }
            return answer(Int(Self.word(bytes, 6)), reached: true)
        }
        let timeExceeded = ipv6 ? 3 : 11
        let unreachable = ipv6 ? 1 : 3
        guard type == timeExceeded || type == unreachable else { return nil }
        guard let probe = quotedProbe(bytes.dropFirst(8)) else { return nil }
        // Unreachable from the target itself (port unreachable for UDP) means we got there.
        return answer(probe, reached: type == unreachable && reachedByTarget)
    }

    /// Which of our probes an ICMP error quotes (its IP header and at least 8 bytes after).
    private func quotedProbe(_ quoted: ArraySlice<UInt8>) -> Int? {
        let nextHeader: Int
        let destination: [UInt8]
        var inner = quoted
        if ipv6 {
            guard quoted.count >= 48 else { return nil }
            nextHeader = Int(quoted[quoted.startIndex + 6])
            destination = Array(quoted[(quoted.startIndex + 24)..<(quoted.startIndex + 40)])
            inner = quoted.dropFirst(40)
        } else {
            guard let first = quoted.first else { return nil }
            let headerLength = Int(first & 0x0F) * 4
            guard headerLength >= 20, quoted.count >= headerLength + 8 else { return nil }
            nextHeader = Int(quoted[quoted.startIndex + 9])
            destination = Array(quoted[(quoted.startIndex + 16)..<(quoted.startIndex + 20)])
            inner = quoted.dropFirst(headerLength)
        }
        guard destination == target.bytes else { return nil }
        switch (mode, nextHeader) {
        case (.icmp, 1), (.icmp, 58):
            guard inner[inner.startIndex] == (ipv6 ? 128 : 8), Self.word(inner, 4) == identifier else { return nil }
            return Int(Self.word(inner, 6))
        case (.udp, 17):
            guard Self.word(inner, 0) == sourcePort, Int(Self.word(inner, 2)) == port else { return nil }
            if inner.count >= 10 { return Int(Self.word(inner, 8)) }  // the payload was quoted too
            return udpChecksums[Self.word(inner, 6)]
        case (.tcp, 6):
            guard Self.word(inner, 0) == sourcePort, Int(Self.word(inner, 2)) == port else { return nil }
            let sequence = UInt32(Self.word(inner, 4)) << 16 | UInt32(Self.word(inner, 6))
            return Int(sequence &- sequenceBase)
        default:
            return nil
        }
    }

    /// The target's SYN-ACK or RST to one of our SYNs.
    private func tcpAnswer(_ packet: Packet) -> TraceAnswer? {
        var segment = packet.bytes[...]
        var replyTTL = packet.hopLimit
        if !ipv6 {
            guard let first = segment.first else { return nil }
            let headerLength = Int(first & 0x0F) * 4
            guard segment.count >= headerLength + 20 else { return nil }
            replyTTL = Int(segment[segment.startIndex + 8])
            segment = segment.dropFirst(headerLength)
        }
        guard segment.count >= 20, packet.fromBytes == target.bytes, Int(Self.word(segment, 0)) == port, Self.word(segment, 2) == sourcePort else {
            return nil
        }
        let flags = segment[segment.startIndex + 13]
        let syn = flags & 0x02 != 0
        let ack = flags & 0x10 != 0
        let rst = flags & 0x04 != 0
        guard ack, syn || rst else { return nil }
        let acknowledged = UInt32(Self.word(segment, 8)) << 16 | UInt32(Self.word(segment, 10))
        let probe = Int(acknowledged &- 1 &- sequenceBase)
        return TraceAnswer(
            probe: probe, responder: packet.from, kernelTime: packet.kernelTime, arrived: packet.arrived, icmpType: nil, icmpCode: nil,
            tcpFlags: syn ? "SYN-ACK" : "RST", replyTTL: replyTTL, reached: true)
    }

    static func word(_ bytes: ArraySlice<UInt8>, _ offset: Int) -> UInt16 {
        guard bytes.count >= offset + 2 else { return 0 }
        return UInt16(bytes[bytes.startIndex + offset]) << 8 | UInt16(bytes[bytes.startIndex + offset + 1])
    }
}
