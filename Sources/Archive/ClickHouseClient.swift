import CCurl
import Foundation
import IMNCore
import NIOPosix

/// ClickHouse's HTTP interface over libcurl: one easy handle (its connection kept alive), used
/// by one call at a time on a thread of its own, never on the cooperative pool.
public final class ClickHouseClient: @unchecked Sendable {
    /// `http://[user:password@]host:8123`; user and password travel as HTTP basic authentication.
    public let url: String
    /// `url` without its user and password, for logs.
    public let address: String
    public let database: String
    private let handle: UnsafeMutableRawPointer
    private let thread = NIOThreadPool(numberOfThreads: 1)
    private let lock = NSLock()

    public init(url: String, database: String) throws(ClickHouseError) {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        guard let parsed = URL(string: base), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil, parsed.query == nil else {
            throw .badAnswer("\(url) is not an http(s)://host:port URL")
        }
        guard !database.isEmpty, database.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw .badAnswer("the database name \(database) must be letters, digits and underscores")
        }
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        guard let handle = curl_easy_init() else { throw .unreachable("libcurl could not start") }
        self.url = base
        address = "\(parsed.scheme ?? "http")://\(parsed.host ?? "")" + (parsed.port.map { ":\($0)" } ?? "")
        self.database = database
        self.handle = handle
        thread.start()
    }

    deinit {
        try? thread.syncShutdownGracefully()
        curl_easy_cleanup(handle)
    }

    /// Runs `query` with `settings` (ClickHouse's, such as `max_execution_time`); `body` (for
    /// `INSERT … FORMAT …`) follows it. Answers the response body.
    public func execute(
        _ query: String, body: [UInt8] = [], settings: [String: String] = [:], timeout: Duration = .seconds(30)
    ) async throws(ClickHouseError) -> [UInt8] {
        let outcome: Result<[UInt8], ClickHouseError>
        do {
            outcome = try await thread.runIfActive { self.perform(query, body: body, settings: settings, timeout: timeout) }
        } catch {
            throw .unreachable("the client is shut down")
        }
        return try outcome.get()
    }

    /// Collects a response body (libcurl's write callback context).
    private final class Sink { var body: [UInt8] = [] }

    private func perform(_ query: String, body: [UInt8], settings: [String: String], timeout: Duration) -> Result<[UInt8], ClickHouseError> {
        lock.lock()
        defer { lock.unlock() }
        // A query alone travels in the body (no URL length limit: a check of 5,000 request ids is
        // long); an INSERT's query in the URL and its rows in the body.
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+;,/?#")
        func encoded(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text }
        // Counts as JSON numbers, not strings, in JSONEachRow answers.
        var parameters = ["database": database, "output_format_json_quote_64bit_integers": "0"]
        parameters.merge(settings) { $1 }
        if !body.isEmpty { parameters["query"] = query }
        let address = "\(url)/?" + parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\(encoded($0.value))" }.joined(separator: "&")
        let body = body.isEmpty ? Array(query.utf8) : body
        let sink = Sink()
        let context = Unmanaged.passRetained(sink)
        defer { context.release() }
        var headers: UnsafeMutablePointer<curl_slist>?
        for line in ["Expect:", "Content-Type: application/octet-stream"] { headers = curl_slist_append(headers, line) }
        defer { curl_slist_free_all(headers) }
        curl_easy_reset(handle)
        let empty: [UInt8] = [0]
        let code: CURLcode = (body.isEmpty ? empty : body).withUnsafeBytes { bytes in
            imn_curl_setopt_string(handle, CURLOPT_URL, address)
            imn_curl_setopt_long(handle, CURLOPT_POST, 1)
            imn_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            imn_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            imn_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers)
            imn_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, max(1, Int(timeout / .milliseconds(1))))
            imn_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 5000)
            imn_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            imn_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context.toOpaque())
            imn_curl_setopt_write_function(handle) { data, size, count, context in
                guard let data, let context else { return 0 }
                let length = size * count
                data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue().body.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                }
                return length
            }
            return curl_easy_perform(handle)
        }
        guard code == CURLE_OK else { return .failure(.unreachable(String(cString: curl_easy_strerror(code)))) }
        var status = 0
        imn_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        guard status == 200 else {
            let text = String(decoding: sink.body.prefix(2000), as: UTF8.self)
            let firstLine = text.split(separator: "\n").first.map(String.init) ?? "HTTP \(status)"
            return .failure(.refused(status: status, message: firstLine))
        }
        return .success(sink.body)
    }
}

extension ClickHouseClient {
    /// A string as a ClickHouse SQL literal, quoted and escaped.
    public static func literal(_ text: String) -> String {
        var escaped = "'"
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "'": escaped += "\\'"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            case "\0": escaped += "\\0"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "'"
    }

    /// The rows of a `… FORMAT JSONEachRow` answer.
    public static func rows(_ body: [UInt8]) throws(ClickHouseError) -> [[String: JSONValue]] {
        var rows: [[String: JSONValue]] = []
        for line in body.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let row = JSONValue(parsing: line)?.objectValue else {
                throw .badAnswer("a row is not a JSON object: \(String(decoding: line.prefix(200), as: UTF8.self))")
            }
            rows.append(row)
        }
        return rows
    }
}
