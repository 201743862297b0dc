import Foundation
import IMNCore
import Synchronization

/// A minimal HTTP/1.1 client for tests (`Connection: close`, loopback only), run off the
/// cooperative pool with ``offload(_:)``.
public enum LoopbackHTTP {
    public struct Reply: Sendable {
        public var status: Int
        /// The status line and header lines, as received.
        public var head: String
        public var body: String
    }

    public static func request(
        _ method: String, port: Int, path: String, body: String = "", headers: [String: String] = [:]
    ) async throws -> Reply {
        try await offload { try blockingRequest(method, port: port, path: path, body: body, headers: headers) }
    }

    static func blockingRequest(_ method: String, port: Int, path: String, body: String, headers: [String: String]) throws -> Reply {
        guard let fd = Loopback.connect(port: port) else { throw ServerProcessError("cannot connect to 127.0.0.1:\(port)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
        text += "Content-Length: \(body.utf8.count)\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "\r\n" + body
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        let parts = String(decoding: response, as: UTF8.self).components(separatedBy: "\r\n\r\n")
        let head = parts.first ?? ""
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        var body = parts.dropFirst().joined(separator: "\r\n\r\n")
        if head.lowercased().contains("transfer-encoding: chunked") { body = dechunk(body) }
        return Reply(status: status, head: head, body: body)
    }

    /// The body of a `Transfer-Encoding: chunked` response.
    public static func dechunk(_ text: String) -> String {
        var bytes = Array(text.utf8)[...]
        var body: [UInt8] = []
        while let lineEnd = bytes.firstIndex(of: 13), let size = Int(String(decoding: bytes[bytes.startIndex..<lineEnd], as: UTF8.self), radix: 16),
            size > 0
        {
            let start = lineEnd + 2
            guard start + size <= bytes.endIndex else { break }
            body += bytes[start..<(start + size)]
            bytes = bytes[min(start + size + 2, bytes.endIndex)...]
        }
        return String(decoding: body, as: UTF8.self)
    }
}

/// Holds the port a server reports once it listens (servers in tests bind port 0).
public final class ListeningPort: Sendable {
    private let storage = Mutex(0)
    public init() {}
    /// 0 until the server listens.
    public var value: Int { storage.withLock { $0 } }
    public func set(_ port: Int) { storage.withLock { $0 = port } }
}
