import Foundation
import IMNCore
import IMNTestSupport
import Synchronization

/// One persistent HTTP/1.1 connection to a loopback server, used by one client lane at a time:
/// the benchmark's clients keep their connection as a real client would, so that a request costs
/// the server no accept and the client no connect. Blocking; call it through ``request(_:_:body:headers:)``
/// which runs it off the cooperative pool. Reconnects once when the server closed the connection.
final class KeepAliveHTTP: Sendable {
    let port: Int
    private let socket = Mutex<Int32>(-1)

    init(port: Int) { self.port = port }

    deinit { socket.withLock { if $0 >= 0 { close($0) } } }

    func request(_ method: String, _ path: String, body: String = "", headers: [String: String] = [:]) async throws -> (status: Int, body: String) {
        try await offload { try self.blocking(method, path, body: body, headers: headers) }
    }

    func blocking(_ method: String, _ path: String, body: String, headers: [String: String]) throws -> (status: Int, body: String) {
        try socket.withLock { fd in
            var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
            for (name, value) in headers { text += "\(name): \(value)\r\n" }
            text += "\r\n" + body
            for attempt in 0..<2 {
                if fd < 0 {
                    guard let opened = Loopback.connect(port: port) else { throw BenchHTTPError("cannot connect to 127.0.0.1:\(port)") }
                    var one: Int32 = 1
                    setsockopt(opened, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    fd = opened
                }
                if let reply = Self.exchange(fd, Array(text.utf8)) { return reply }
                close(fd)
                fd = -1
                if attempt == 1 { break }
            }
            throw BenchHTTPError("the connection to 127.0.0.1:\(port) failed twice")
        }
    }

    /// Sends one request and reads one response (Content-Length or chunked); nil when the
    /// connection broke.
    static func exchange(_ fd: Int32, _ request: [UInt8]) -> (status: Int, body: String)? {
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return nil }
            sent += count
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        func fill() -> Bool {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return false }
            received += buffer[0..<count]
            return true
        }
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            guard fill() else { return nil }
            headEnd = received.firstRange(of: separator)?.upperBound
        }
        guard let bodyStart = headEnd else { return nil }
        let head = String(decoding: received[..<bodyStart], as: UTF8.self).lowercased()
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        if head.contains("transfer-encoding: chunked") {
            while received[bodyStart...].firstRange(of: Array("\r\n0\r\n\r\n".utf8)) == nil
                && !received[bodyStart...].starts(with: Array("0\r\n\r\n".utf8))
            {
                guard fill() else { return nil }
            }
            return (status, LoopbackHTTP.dechunk(String(decoding: received[bodyStart...], as: UTF8.self)))
        }
        let length =
            head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }.flatMap {
                Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces))
            } ?? 0
        while received.count - bodyStart < length {
            guard fill() else { return nil }
        }
        return (status, String(decoding: received[bodyStart..<(bodyStart + length)], as: UTF8.self))
    }
}

struct BenchHTTPError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
