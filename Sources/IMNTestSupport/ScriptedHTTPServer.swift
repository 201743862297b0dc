import Foundation
import IMNCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A small HTTP/1.1 server on loopback for client tests: answers each request with the next
/// scripted reply (then the default one), keeps connections alive, and records every request with
/// the time it arrived. Blocking sockets on threads of its own.
public final class ScriptedHTTPServer: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var path: String
        /// Header names lowercased.
        public var headers: [String: String]
        public var body: [UInt8]
        public var receivedAt: ContinuousClock.Instant
    }

    public struct Reply: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]

        public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        public static let ok = Reply(status: 200)
    }

    private struct State {
        var replies: [Reply]
        var requests: [Request] = []
        var connections: [Int32] = []
        var stopped = false
    }

    public let port: Int
    private let listener: Int32
    private let state: Mutex<State>
    private let defaultReply: Reply
    private let recording: Bool
    private let onRequest: (@Sendable (Request) -> Void)?

    /// Listens on `port` (0: a free one). Without `recording`, requests are handed to `onRequest`
    /// and not kept (for benchmarks).
    public init(
        port: Int = 0, replies: [Reply] = [], defaultReply: Reply = .ok, recording: Bool = true, onRequest: (@Sendable (Request) -> Void)? = nil
    ) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = Loopback.withAddress(port: port) { bind(fd, $0, $1) == 0 }
        guard bound, listen(fd, 64) == 0 else {
            close(fd)
            throw ServerProcessError("cannot listen on 127.0.0.1:\(port)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        self.listener = fd
        self.state = Mutex(State(replies: replies))
        self.defaultReply = defaultReply
        self.recording = recording
        self.onRequest = onRequest
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Every request so far, in arrival order.
    public var requests: [Request] { state.withLock { $0.requests } }

    public func stop() {
        let connections = state.withLock { state -> [Int32] in
            state.stopped = true
            return state.connections
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in connections { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { return }
            let stopped = state.withLock { state -> Bool in
                state.connections.append(fd)
                return state.stopped
            }
            if stopped {
                close(fd)
                return
            }
            Thread { [self] in serve(fd) }.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        func fill() -> Bool {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return false }
            buffer += chunk[0..<count]
            return true
        }
        while true {
            var headerEnd: Int?
            while headerEnd == nil {
                headerEnd = Self.find([13, 10, 13, 10], in: buffer)
                if headerEnd == nil && !fill() { return }
            }
            guard let end = headerEnd else { return }
            let head = String(decoding: buffer[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
            let requestLine = (head.first ?? "").split(separator: " ")
            var headers: [String: String] = [:]
            for line in head.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            while buffer.count < end + 4 + length { if !fill() { return } }
            let body = Array(buffer[(end + 4)..<(end + 4 + length)])
            buffer.removeFirst(end + 4 + length)
            let request = Request(
                method: requestLine.first.map(String.init) ?? "", path: requestLine.dropFirst().first.map(String.init) ?? "", headers: headers,
                body: body, receivedAt: .now)
            onRequest?(request)
            let reply = state.withLock { state -> Reply in
                if recording { state.requests.append(request) }
                return state.replies.isEmpty ? defaultReply : state.replies.removeFirst()
            }
            var text = "HTTP/1.1 \(reply.status) Scripted\r\nContent-Length: \(reply.body.count)\r\n"
            for (name, value) in reply.headers { text += "\(name): \(value)\r\n" }
            text += "\r\n"
            let bytes = Array(text.utf8) + reply.body
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if headers["connection"]?.lowercased() == "close" { return }
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index..<index + needle.count].elementsEqual(needle) { return index }
        return nil
    }
}
