import Glibc

/// Sends a query to one resolver and waits for its answer: UDP with retries, or TCP; a
/// truncated UDP answer (TC) is asked again over TCP.
/// The query time runs from just before the send to the kernel's receive stamp of the answer
/// (`SO_TIMESTAMPNS`) over UDP, and to the last byte read over TCP (connect included).
public enum DNSExchange {
    public enum Transport: String, Sendable {
        case udp, tcp
    }

    public struct Options: Sendable {
        public var transport: Transport
        /// Seconds to wait for each try.
        public var timeout: Double
        /// Tries after the first (UDP only; TCP is one try).
        public var retries: Int
        public var tcpFallback: Bool

        public init(transport: Transport = .udp, timeout: Double = 2, retries: Int = 1, tcpFallback: Bool = true) {
            self.transport = transport
            self.timeout = timeout
            self.retries = retries
            self.tcpFallback = tcpFallback
        }
    }

    public struct Answer: Sendable {
        public var message: DNSMessage
        /// How the answer came: `tcp` after a truncated UDP answer.
        public var transport: Transport
        /// The UDP answer was truncated and the query was asked again over TCP.
        public var fellBackToTCP: Bool
        /// Query time of the answer returned (the TCP one after a fallback).
        public var queryTime: Duration
        /// Time spent in UDP before a fallback, zero otherwise.
        public var udpTime: Duration
        public var tries: Int
    }

    /// Asks `query` of `resolver`. No thread is held while a UDP answer is awaited
    /// (``DNSReactor`` waits for every socket on one thread); a TCP exchange, rare and blocking,
    /// runs through `blocking` (on a thread that may block).
    public static func ask(
        _ query: DNSQuery, resolver: DNSResolverAddress, options: Options,
        blocking: @Sendable (@escaping @Sendable () throws -> (DNSMessage, Duration)) async throws -> (DNSMessage, Duration)
    ) async throws -> Answer {
        if options.transport == .tcp {
            let (message, time) = try await blocking { try tcp(query, resolver: resolver, timeout: options.timeout) }
            return Answer(message: message, transport: .tcp, fellBackToTCP: false, queryTime: time, udpTime: .zero, tries: 1)
        }
        let (message, time, tries) = try await udp(query, resolver: resolver, options: options)
        guard message.flags.tc, options.tcpFallback else {
            return Answer(message: message, transport: .udp, fellBackToTCP: false, queryTime: time, udpTime: .zero, tries: tries)
        }
        let (full, tcpTime) = try await blocking { try tcp(query, resolver: resolver, timeout: options.timeout) }
        return Answer(message: full, transport: .tcp, fellBackToTCP: true, queryTime: tcpTime, udpTime: time, tries: tries + 1)
    }

    static func udp(_ query: DNSQuery, resolver: DNSResolverAddress, options: Options) async throws(DNSError) -> (DNSMessage, Duration, Int) {
        let socket = try DNSSocket(resolver, type: SOCK_DGRAM)
        defer { DNSReactor.shared.remove(socket.fd) }
        var tries = 0
        while tries <= options.retries {
            tries += 1
            let id = UInt16.random(in: 0...UInt16.max)
            let sent = try socket.send(try query.wire(id: id))
            let deadline = sent.monotonic + .milliseconds(Int64(options.timeout * 1000))
            waiting: while true {
                while let received = try socket.receiveWaiting() {
                    // Another id is a late answer to an earlier try, or not ours at all: keep waiting.
                    guard received.bytes.count >= 2, UInt16(received.bytes[0]) << 8 | UInt16(received.bytes[1]) == id else { continue }
                    let message = try DNSMessage(wire: received.bytes)
                    try check(message, answers: query)
                    return (message, received.time(since: sent), tries)
                }
                switch await DNSReactor.shared.wait(socket.fd, until: deadline) {
                case .readable: continue
                case .timeout: break waiting
                case .cancelled: throw .transport("cancelled")
                }
            }
        }
        throw .timeout(resolver: resolver.description, tries: tries, seconds: options.timeout)
    }

    static func tcp(_ query: DNSQuery, resolver: DNSResolverAddress, timeout: Double) throws(DNSError) -> (DNSMessage, Duration) {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int64(timeout * 1000))
        let socket = try DNSSocket(resolver, type: SOCK_STREAM, connectBy: deadline)
        let id = UInt16.random(in: 0...UInt16.max)
        let wire = try query.wire(id: id)
        _ = try socket.send([UInt8(wire.count >> 8), UInt8(wire.count & 0xFF)] + wire)
        let length = try socket.read(2, by: deadline, resolver: resolver)
        let bytes = try socket.read(Int(length[0]) << 8 | Int(length[1]), by: deadline, resolver: resolver)
        let elapsed = clock.now - start
        let message = try DNSMessage(wire: bytes)
        guard message.id == id else { throw .malformed("the answer's id \(message.id) is not the query's \(id)") }
        try check(message, answers: query)
        return (message, elapsed)
    }

    /// The answer must be a response to our question (same name, type and class).
    static func check(_ message: DNSMessage, answers query: DNSQuery) throws(DNSError) {
        guard message.flags.qr else { throw .malformed("the QR bit is not set: a query, not an answer") }
        guard let question = message.question.first else { return }  // some servers drop it from errors (FORMERR)
        let asked = query.questionName.lowercased()
        let name = question.name.lowercased()
        guard name == asked || name == asked + "." || name + "." == asked, question.type == query.type || query.type == "ANY" else {
            throw .malformed("it answers \(question.name) \(question.type), not \(query.questionName) \(query.type)")
        }
    }
}
