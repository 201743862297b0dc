import CCurl
import Foundation
import IMNCore

/// An answer from the IMN server: status, the headers the commands read, the body as sent.
public struct APIResponse: Sendable {
    public var status: Int
    public var location: String?
    public var body: [UInt8]

    public var json: JSONValue? { JSONValue(parsing: body) }
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// The REST API of one IMN server, over libcurl (one easy handle, so its connection is kept
/// between calls; calls run one at a time on the caller's thread). Transport failures are
/// `ClientError.unreachable`; an answer of 400 or more is `ClientError.refused` with its
/// problem+json; POSTs carry an `Idempotency-Key` and are repeated with the same key when the
/// connection fails, so a retried measurement is never started twice.
public final class APIClient: @unchecked Sendable {
    public let server: String
    private let token: String?
    private let handle: UnsafeMutableRawPointer
    private let lock = NSLock()

    /// `server` is a base URL (`http://localhost:8000`); a bare `host:port` gets `http://`.
    public init(server: String, token: String?) throws(ClientError) {
        var base = server.trimmed
        if !base.contains("://") { base = "http://" + base }
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw .usage("--server: \"\(server)\" is not an http(s) URL such as http://localhost:8000")
        }
        self.server = base
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        guard let handle = curl_easy_init() else { throw .unreachable(base, "libcurl could not start") }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    public func get(_ path: String, query: [(String, String)] = [], timeout: Duration = .seconds(30)) throws(ClientError) -> APIResponse {
        try checked(perform("GET", path, query: query, body: nil, headers: [], timeout: timeout))
    }

    public func delete(_ path: String, timeout: Duration = .seconds(30)) throws(ClientError) -> APIResponse {
        try checked(perform("DELETE", path, query: [], body: nil, headers: [], timeout: timeout))
    }

    /// POSTs a JSON body with an Idempotency-Key, trying again (same key) up to `attempts` times
    /// while the server cannot be reached.
    public func post(
        _ path: String, json: JSONValue, query: [(String, String)] = [], timeout: Duration = .seconds(30), attempts: Int = 3
    ) throws(ClientError) -> APIResponse {
        let key = UUID().uuidString.lowercased()
        var lastError = ClientError.unreachable(server, "no attempt made")
        for attempt in 1...max(1, attempts) {
            do {
                return try checked(
                    perform(
                        "POST", path, query: query, body: json.bytes,
                        headers: [("Content-Type", "application/json"), ("Idempotency-Key", key)], timeout: timeout))
            } catch .unreachable(let server, let reason) {
                lastError = .unreachable(server, reason)
                if attempt < attempts { Thread.sleep(forTimeInterval: 0.5 * Double(attempt)) }
            }
        }
        throw lastError
    }

    /// Reads a Server-Sent Events stream, handing each event's data to `onData` until it returns
    /// false, the stream ends or `duration` (when given) has passed.
    public func stream(
        _ path: String, query: [(String, String)], duration: Duration? = nil, onData: @escaping (String) -> Bool
    ) throws(ClientError) {
        let parser = EventStreamParser(onData: onData)
        let response = try perform(
            "GET", path, query: query, body: nil, headers: [("Accept", "text/event-stream")], timeout: duration, sink: parser,
            timeoutEnds: duration != nil)
        if response.status >= 400 { try checked(response) }
    }

    // MARK: libcurl

    /// Receives body bytes as they arrive (a plain collector, or an event-stream parser).
    class BodySink {
        var body: [UInt8] = []
        /// False stops the transfer.
        func receive(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            body.append(contentsOf: bytes)
            return body.count <= 64 << 20
        }
    }

    private final class HeaderSink {
        var location: String?
    }

    private func url(_ path: String, _ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return server + path }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+;,/?")
        let items = query.map { name, value in "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)" }
        return server + path + "?" + items.joined(separator: "&")
    }

    private func perform(
        _ method: String, _ path: String, query: [(String, String)], body: [UInt8]?, headers: [(String, String)], timeout: Duration?,
        sink: BodySink = BodySink(), timeoutEnds: Bool = false
    ) throws(ClientError) -> APIResponse {
        lock.lock()
        defer { lock.unlock() }
        let headerSink = HeaderSink()
        let bodyContext = Unmanaged.passRetained(sink)
        let headerContext = Unmanaged.passRetained(headerSink)
        defer {
            bodyContext.release()
            headerContext.release()
        }
        var list: UnsafeMutablePointer<curl_slist>?
        var lines = headers.map { "\($0.0): \($0.1)" } + ["Expect:", "Accept-Encoding:"]
        if let token { lines.append("Authorization: Bearer \(token)") }
        for line in lines { list = curl_slist_append(list, line) }
        defer { curl_slist_free_all(list) }
        curl_easy_reset(handle)
        let payload = body ?? []
        let code: CURLcode = payload.withUnsafeBytes { bytes in
            imn_curl_setopt_string(handle, CURLOPT_URL, url(path, query))
            imn_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
            if body != nil {
                imn_curl_setopt_long(handle, CURLOPT_POST, 1)
                imn_curl_setopt_pointer(
                    handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)))
                imn_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(payload.count))
            }
            imn_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
            imn_curl_setopt_string(handle, CURLOPT_USERAGENT, "imn/\(IMNVersion.current)")
            if let timeout {
                imn_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, max(1, Int(timeout / .milliseconds(1))))
            }
            imn_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 5000)
            imn_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            imn_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, bodyContext.toOpaque())
            imn_curl_setopt_write_function(handle) { data, size, count, context in
                guard let data, let context else { return 0 }
                let length = size * count
                let keep = data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    Unmanaged<BodySink>.fromOpaque(context).takeUnretainedValue().receive(UnsafeBufferPointer(start: $0, count: length))
                }
                return keep ? length : 0
            }
            imn_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, headerContext.toOpaque())
            imn_curl_setopt_header_function(handle) { data, size, count, context in
                guard let data, let context else { return 0 }
                let length = size * count
                let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
                if line.lowercased().hasPrefix("location:") {
                    Unmanaged<HeaderSink>.fromOpaque(context).takeUnretainedValue().location = String(line.dropFirst(9)).trimmed
                }
                return length
            }
            return curl_easy_perform(handle)
        }
        var status = 0
        imn_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        switch code {
        case CURLE_OK: break
        case CURLE_WRITE_ERROR where status != 0: break  // the sink stopped the transfer
        case CURLE_OPERATION_TIMEDOUT where timeoutEnds && status != 0: break  // a stream read for as long as asked
        default: throw .unreachable(server, String(cString: curl_easy_strerror(code)))
        }
        return APIResponse(status: status, location: headerSink.location, body: sink.body)
    }

    /// The answer itself when it is a success; a refusal with the server's problem otherwise.
    @discardableResult
    private func checked(_ response: APIResponse) throws(ClientError) -> APIResponse {
        guard response.status >= 400 else { return response }
        throw .refused(ServerProblem(status: response.status, body: response.json))
    }
}

/// Splits a `text/event-stream` body into events and hands on each one's `data`.
final class EventStreamParser: APIClient.BodySink {
    private let onData: (String) -> Bool
    private var pending: [UInt8] = []
    private var data: [String] = []

    init(onData: @escaping (String) -> Bool) { self.onData = onData }

    override func receive(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        pending.append(contentsOf: bytes)
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            var line = String(decoding: pending[..<newline], as: UTF8.self)
            pending.removeSubrange(...newline)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty {
                guard !data.isEmpty else { continue }
                let event = data.joined(separator: "\n")
                data.removeAll()
                if !onData(event) { return false }
            } else if line.hasPrefix("data:") {
                data.append(String(line.dropFirst(5)).trimmingPrefix(" ").description)
            }
        }
        return true
    }
}
