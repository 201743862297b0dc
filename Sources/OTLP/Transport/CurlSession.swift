import CCurl

/// One libcurl easy handle. It keeps its connection alive between requests, so it must be used
/// by one thread at a time (``OTLPHTTPExporter`` gives it a thread of its own).
final class CurlSession: @unchecked Sendable {
    struct Response {
        var status: Int
        /// From `Retry-After` (seconds or an HTTP date); 0 when absent.
        var retryAfterSeconds: Int64
        var body: [UInt8]
    }

    enum Failure: Error {
        /// No answer: could not connect or resolve, the connection broke, or the attempt timed out. Retryable.
        case connection(String)
        /// The response body passed the limit. Not retryable.
        case responseTooLarge
        case other(String)
    }

    private let handle: UnsafeMutableRawPointer
    /// libcurl's built-in CA bundle: NULL would turn CA files off, so a signal without its own goes back to this.
    private let defaultCAInfo: String?

    init() {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        handle = curl_easy_init()
        var path: UnsafeMutablePointer<CChar>?
        imn_curl_getinfo_string(handle, CURLINFO_CAINFO, &path)
        defaultCAInfo = path.map { String(cString: $0) }
    }

    deinit { curl_easy_cleanup(handle) }

    /// Collects the response body up to a limit (libcurl's write callback context).
    private final class Sink {
        var body: [UInt8] = []
        let limit: Int
        var overflowed = false
        init(limit: Int) { self.limit = limit }
    }

    func post(
        url: String, body: [UInt8], headers: [(String, String)], timeout: Duration, maxResponseBytes: Int, userAgent: String,
        tls: OTLPExporterConfiguration.TLSFiles? = nil
    ) -> Result<Response, Failure> {
        let sink = Sink(limit: maxResponseBytes)
        let context = Unmanaged.passRetained(sink)
        defer { context.release() }
        var list: UnsafeMutablePointer<curl_slist>?
        // "Expect:" turns off libcurl's 100-continue wait for bodies over 1 KiB.
        for line in headers.map({ "\($0.0): \($0.1)" }) + ["Expect:"] { list = curl_slist_append(list, line) }
        defer { curl_slist_free_all(list) }
        let milliseconds = max(1, Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        let empty: [UInt8] = [0]
        let code: CURLcode = (body.isEmpty ? empty : body).withUnsafeBytes { bytes in
            imn_curl_setopt_string(handle, CURLOPT_URL, url)
            imn_curl_setopt_long(handle, CURLOPT_POST, 1)
            imn_curl_setopt_pointer(
                handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            imn_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            imn_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
            imn_curl_setopt_string(handle, CURLOPT_USERAGENT, userAgent)
            imn_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, milliseconds)
            imn_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, min(milliseconds, 5000))
            imn_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            imn_curl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, "")  // gzip responses, decompressed before the limit applies
            // Options stay set on the handle between requests: each is set (or cleared) every time.
            imn_curl_setopt_string(handle, CURLOPT_CAINFO, tls?.certificate ?? defaultCAInfo)
            imn_curl_setopt_string(handle, CURLOPT_SSLCERT, tls?.clientCertificate)
            imn_curl_setopt_string(handle, CURLOPT_SSLKEY, tls?.clientKey)
            imn_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context.toOpaque())
            imn_curl_setopt_write_function(handle) { data, size, count, context in
                guard let data, let context else { return 0 }
                let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
                let length = size * count
                if sink.body.count + length > sink.limit {
                    sink.overflowed = true
                    return 0  // aborts the transfer
                }
                data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    sink.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                }
                return length
            }
            return curl_easy_perform(handle)
        }
        if sink.overflowed { return .failure(.responseTooLarge) }
        guard code == CURLE_OK else {
            let message = String(cString: curl_easy_strerror(code))
            switch code {
            case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR,
                CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE:
                return .failure(.connection(message))
            default:
                return .failure(.other(message))
            }
        }
        var status = 0
        imn_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var retryAfter: curl_off_t = 0
        imn_curl_getinfo_off_t(handle, CURLINFO_RETRY_AFTER, &retryAfter)
        return .success(Response(status: status, retryAfterSeconds: max(0, Int64(retryAfter)), body: sink.body))
    }
}
