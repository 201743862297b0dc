import Foundation
import IMNCore
import Synchronization

/// Reads a Server-Sent Events response on loopback: the head once connected, then each
/// `data:` line's JSON. Blocking reads run off the cooperative pool.
public final class SSEReader: Sendable {
    public let head: String
    private let fd: Int32
    private let pending = Mutex<[UInt8]>([])

    /// Connects and reads until the head and the stream's first comment have arrived (so events
    /// published after this returns reach the reader).
    public init(port: Int, path: String, headers: [String: String] = [:]) async throws {
        guard let fd = Loopback.connect(port: port) else { throw ServerProcessError("cannot connect to 127.0.0.1:\(port)") }
        self.fd = fd
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var text = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        let bytes = Array((text + "\r\n").utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var received: [UInt8] = []
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline, Self.range(of: Array("\n\n".utf8), in: received) == nil {
            received += try await offload { [fd] in Self.read(fd) }
        }
        guard let end = Self.range(of: Array("\r\n\r\n".utf8), in: received) else {
            close(fd)
            throw ServerProcessError("no SSE response from \(path)")
        }
        head = String(decoding: received[..<end.lowerBound], as: UTF8.self)
        pending.withLock { $0 = Array(received[end.upperBound...]) }
    }

    /// The next `data:` event as JSON, or nil when none came within `timeout`.
    public func nextEvent(timeout: Duration) async throws -> JSONValue? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let event = takeEvent() { return event }
            guard ContinuousClock.now < deadline else { return nil }
            let more = try await offload { [fd] in Self.read(fd) }
            pending.withLock { $0 += more }
        }
    }

    public func disconnect() { close(fd) }

    private func takeEvent() -> JSONValue? {
        pending.withLock { bytes in
            while let start = Self.range(of: Array("data: ".utf8), in: bytes) {
                guard let end = Self.range(of: Array("\n\n".utf8), in: Array(bytes[start.upperBound...])) else { return nil }
                let line = Array(bytes[start.upperBound..<(start.upperBound + end.lowerBound)])
                bytes = Array(bytes[(start.upperBound + end.upperBound)...])
                if let event = JSONValue(parsing: line) { return event }
            }
            return nil
        }
    }

    /// Up to 64 KiB, or nothing after the one-second receive timeout.
    private static func read(_ fd: Int32) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? Array(buffer[0..<count]) : []
    }

    private static func range(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start..<(start + needle.count)
        }
        return nil
    }
}
