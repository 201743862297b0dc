import CCurl
import FoundationEssentials
import Glibc
import IMNCore

/// One libcurl easy handle for the hops of one `http` run, used by one probe thread. curl's
/// callbacks reach the run's ``State`` through their user-data pointers.
final class CurlProbe {
    /// What the callbacks gather during one transfer.
    final class State {
        let options: HTTPTransfer.Options
        let cancelled: CancelFlag
        var refusal: ModuleError?
        var connectedAddress: String?
        var statusLine = ""
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        var bodySize = 0
        var truncated = false
        var tlsVersion: String?
        var cipher: String?
        var alpn: String?
        var verifyMessage: String?

        static let maxHeaderLines = 200

        init(options: HTTPTransfer.Options, cancelled: CancelFlag) {
            self.options = options
            self.cancelled = cancelled
        }

        func reset() {
            refusal = nil
            statusLine = ""
            headers = []
            body = []
            bodySize = 0
            truncated = false
            verifyMessage = nil
        }

        /// curl's informational text: the TLS version and cipher, ALPN and the verify result
        /// come only this way through the easy API.
        func note(_ line: Substring) {
            if let rest = line.firstRange(of: "SSL connection using ").map({ line[$0.upperBound...] }) {
                let parts = rest.split(separator: "/", maxSplits: 1).map { String($0).trimmed }
                tlsVersion = parts.first
                cipher = parts.count > 1 ? parts[1] : nil
            } else if let range = line.firstRange(of: "ALPN: server accepted ") {
                alpn = String(line[range.upperBound...]).trimmed
            } else if let range = line.firstRange(of: "SSL certificate verify result: ") {
                let message = line[range.upperBound...]
                verifyMessage = String(message.split(separator: ",", maxSplits: 1).first ?? message)
            }
        }
    }

    let handle: UnsafeMutableRawPointer
    let state: State
    private let context: Unmanaged<State>
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var headerList: UnsafeMutablePointer<curl_slist>?

    init(_ options: HTTPTransfer.Options, cancelled: CancelFlag) throws(ModuleError) {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        guard let handle = curl_easy_init() else { throw ModuleError("libcurl could not make a handle") }
        self.handle = handle
        state = State(options: options, cancelled: cancelled)
        context = Unmanaged.passRetained(state)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        for (name, value) in options.headers {
            headerList = curl_slist_append(headerList, value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        configure()
    }

    deinit {
        curl_easy_cleanup(handle)
        curl_slist_free_all(headerList)
        context.release()
        errorBuffer.deallocate()
    }

    private func configure() {
        let options = state.options
        let opaque = context.toOpaque()
        imn_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        imn_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        imn_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        imn_curl_setopt_string(handle, CURLOPT_USERAGENT, "imn-agent/\(IMNVersion.current)")
        imn_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        imn_curl_setopt_long(handle, CURLOPT_CERTINFO, 1)
        imn_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, options.insecure ? 0 : 1)
        imn_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, options.insecure ? 0 : 2)
        imn_curl_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(options.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1))
        switch options.method {
        case "HEAD": imn_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
        case "OPTIONS": imn_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, "OPTIONS")
        default: imn_curl_setopt_long(handle, CURLOPT_HTTPGET, 1)
        }
        if let headerList { imn_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList) }

        imn_curl_setopt_pointer(handle, CURLOPT_OPENSOCKETDATA, opaque)
        imn_curl_setopt_opensocket_function(handle) { context, _, address in
            guard let context, let address else { return CURL_SOCKET_BAD }
            let state = Unmanaged<State>.fromOpaque(context).takeUnretainedValue()
            guard let target = imn_curl_sockaddr(address) else { return CURL_SOCKET_BAD }
            let (bytes, text) = CurlProbe.describe(target)
            do throws(ModuleError) {
                try state.options.policy.check(bytes, host: text, text: text)
            } catch {
                state.refusal = error
                return CURL_SOCKET_BAD
            }
            state.connectedAddress = text
            return socket(address.pointee.family, address.pointee.socktype, address.pointee.protocol)
        }
        imn_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, opaque)
        imn_curl_setopt_header_function(handle) { data, size, count, context in
            guard let data, let context else { return 0 }
            let state = Unmanaged<State>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
                .trimmed
            if line.hasPrefix("HTTP/") {
                state.statusLine = line  // a new response (after a 100 Continue, say): start over
                state.headers = []
            } else if let colon = line.firstIndex(of: ":"), state.headers.count < State.maxHeaderLines {
                state.headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmed))
            }
            return length
        }
        imn_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, opaque)
        imn_curl_setopt_write_function(handle) { data, size, count, context in
            guard let data, let context else { return 0 }
            let state = Unmanaged<State>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            let room = state.options.bodyBytes - state.body.count
            if room > 0 {
                data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    state.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: min(room, length)))
                }
            }
            if state.bodySize + length > state.options.maxBodyBytes {
                state.bodySize = state.options.maxBodyBytes
                state.truncated = true
                return 0  // stops the download: the result says truncated
            }
            state.bodySize += length
            return length
        }
        imn_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
        imn_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, opaque)
        imn_curl_setopt_xferinfo_function(handle) { context, _, _, _, _ in
            guard let context else { return 1 }
            return Unmanaged<State>.fromOpaque(context).takeUnretainedValue().cancelled.isSet ? 1 : 0
        }
        imn_curl_setopt_long(handle, CURLOPT_VERBOSE, 1)
        imn_curl_setopt_pointer(handle, CURLOPT_DEBUGDATA, opaque)
        imn_curl_setopt_debug_function(handle) { _, type, data, size, context in
            guard type == CURLINFO_TEXT, let data, let context else { return 0 }
            let state = Unmanaged<State>.fromOpaque(context).takeUnretainedValue()
            let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
            for line in text.split(separator: "\n") { state.note(line) }
            return 0
        }
    }

    /// One request to `url`; `pinTo` connects to that address instead of resolving the host.
    func perform(_ url: String, timeout: Duration, pinTo address: String?) throws -> HTTPHop {
        state.reset()
        errorBuffer[0] = 0
        imn_curl_setopt_string(handle, CURLOPT_URL, url)
        let milliseconds = max(1, Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        imn_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, milliseconds)
        var resolveList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(resolveList) }
        if let address {
            let (host, port) = try Self.hostAndPort(url)
            resolveList = curl_slist_append(nil, "\(host):\(port):\(address.contains(":") ? "[\(address)]" : address)")
            imn_curl_setopt_slist(handle, CURLOPT_RESOLVE, resolveList)
        } else {
            imn_curl_setopt_slist(handle, CURLOPT_RESOLVE, nil)
        }
        let code = curl_easy_perform(handle)
        if let refusal = state.refusal { throw refusal }
        if state.cancelled.isSet { throw CancellationError() }
        if code != CURLE_OK && !(code == CURLE_WRITE_ERROR && state.truncated) { throw failure(code, url: url) }
        return hop(url)
    }

    private func failure(_ code: CURLcode, url: String) -> ModuleError {
        let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        let kind: String
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST: kind = "resolve"
        case CURLE_COULDNT_CONNECT: kind = "connect"
        case CURLE_OPERATION_TIMEDOUT: kind = "timeout"
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE: kind = "tls"
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: kind = "url"
        case CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE, CURLE_WEIRD_SERVER_REPLY: kind = "protocol"
        default: kind = "error"
        }
        return ModuleError("http \(kind) error for \(url): \(detail) (curl \(code.rawValue))")
    }

    private func hop(_ url: String) -> HTTPHop {
        func micros(_ info: CURLINFO) -> Duration {
            var value: curl_off_t = 0
            imn_curl_getinfo_off_t(handle, info, &value)
            return .microseconds(Int64(value))
        }
        func string(_ info: CURLINFO) -> String? {
            var value: UnsafeMutablePointer<CChar>?
            guard imn_curl_getinfo_string(handle, info, &value) == CURLE_OK, let value else { return nil }
            return String(cString: value)
        }
        var status = 0
        imn_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var version = 0
        imn_curl_getinfo_long(handle, CURLINFO_HTTP_VERSION, &version)
        var port = 0
        imn_curl_getinfo_long(handle, CURLINFO_PRIMARY_PORT, &port)
        let phases = HTTPHop.Phases(
            resolved: micros(CURLINFO_NAMELOOKUP_TIME_T), connected: micros(CURLINFO_CONNECT_TIME_T), tlsDone: micros(CURLINFO_APPCONNECT_TIME_T),
            requestSent: micros(CURLINFO_PRETRANSFER_TIME_T), firstByte: micros(CURLINFO_STARTTRANSFER_TIME_T), total: micros(CURLINFO_TOTAL_TIME_T))
        let https = url.lowercased().hasPrefix("https://")
        var tls: HTTPHop.TLS?
        if https {
            var verifyResult = 0
            imn_curl_getinfo_long(handle, CURLINFO_SSL_VERIFYRESULT, &verifyResult)
            tls = HTTPHop.TLS(
                version: state.tlsVersion, cipher: state.cipher, alpn: state.alpn, verified: verifyResult == 0,
                verifyMessage: verifyResult == 0 ? nil : (state.verifyMessage ?? "OpenSSL verify result \(verifyResult)"),
                certificates: certificates())
        }
        return HTTPHop(
            url: url, status: status, httpVersion: Self.versionName(version), address: string(CURLINFO_PRIMARY_IP) ?? state.connectedAddress,
            port: port > 0 ? port : nil, headers: state.headers, bodySize: state.bodySize, body: state.body, truncated: state.truncated,
            phases: phases, tls: tls, redirectURL: string(CURLINFO_REDIRECT_URL))
    }

    static func versionName(_ version: Int) -> String {
        switch version {
        case Int(CURL_HTTP_VERSION_1_0): "1.0"
        case Int(CURL_HTTP_VERSION_1_1): "1.1"
        case Int(CURL_HTTP_VERSION_2_0): "2"
        case Int(CURL_HTTP_VERSION_3): "3"
        default: "unknown"
        }
    }

    /// The chain as curl's OpenSSL backend lists it (`CURLINFO_CERTINFO`), leaf first.
    private func certificates() -> [HTTPHop.Certificate] {
        var info: UnsafeMutablePointer<curl_certinfo>?
        guard imn_curl_getinfo_certinfo(handle, &info) == CURLE_OK, let info, let lists = info.pointee.certinfo else { return [] }
        return (0..<Int(info.pointee.num_of_certs)).map { index in
            var fields: [String: String] = [:]
            var node = lists[index]
            while let current = node {
                if let data = current.pointee.data {
                    let line = String(cString: data)
                    if let colon = line.firstIndex(of: ":") { fields[String(line[..<colon])] = String(line[line.index(after: colon)...]) }
                }
                node = current.pointee.next
            }
            let names = (fields["X509v3 Subject Alternative Name"] ?? "").split(separator: ",").map {
                String($0).trimmed.replacing("DNS:", with: "").replacing("IP Address:", with: "")
            }
            return HTTPHop.Certificate(
                subject: fields["Subject"] ?? "", issuer: fields["Issuer"] ?? "", serial: fields["Serial Number"], names: names,
                notBefore: fields["Start date"].flatMap(Self.certificateDate), notAfter: fields["Expire date"].flatMap(Self.certificateDate),
                signatureAlgorithm: fields["Signature Algorithm"])
        }
    }

    /// OpenSSL's printed time, `Jan  2 15:04:05 2026 GMT`, as seconds since the epoch.
    static func certificateDate(_ text: String) -> Double? {
        let parts = text.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count >= 4, let month = months.firstIndex(of: String(parts[0])), let day = Int32(parts[1]), let year = Int32(parts[3]) else {
            return nil
        }
        let clock = parts[2].split(separator: ":").compactMap { Int32($0) }
        guard clock.count == 3 else { return nil }
        var parts_ = tm()
        parts_.tm_year = year - 1900
        parts_.tm_mon = Int32(month)
        parts_.tm_mday = day
        parts_.tm_hour = clock[0]
        parts_.tm_min = clock[1]
        parts_.tm_sec = clock[2]
        return Double(timegm(&parts_))
    }

    /// The host and port of a URL, through curl's own parser.
    static func hostAndPort(_ url: String) throws(ModuleError) -> (String, Int) {
        guard let parsed = curl_url() else { throw ModuleError("libcurl could not parse URLs") }
        defer { curl_url_cleanup(parsed) }
        guard curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK else { throw ModuleError("\"\(url)\" is not a valid URL") }
        var host: UnsafeMutablePointer<CChar>?
        var port: UnsafeMutablePointer<CChar>?
        guard curl_url_get(parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK, let host,
            curl_url_get(parsed, CURLUPART_PORT, &port, UInt32(CURLU_DEFAULT_PORT)) == CURLUE_OK, let port
        else { throw ModuleError("\"\(url)\" has no host") }
        defer {
            curl_free(host)
            curl_free(port)
        }
        var name = String(cString: host)
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        return (name, Int(String(cString: port)) ?? 0)
    }

    /// The numeric address bytes and text of a socket address.
    static func describe(_ address: UnsafePointer<sockaddr>) -> ([UInt8], String) {
        let family = Int32(address.pointee.sa_family)
        let length = socklen_t(family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let text = ResolvedAddress.numericHost(address, length)
        let bytes: [UInt8] = address.withMemoryRebound(to: UInt8.self, capacity: Int(length)) { raw in
            family == AF_INET6 ? Array(UnsafeBufferPointer(start: raw + 8, count: 16)) : Array(UnsafeBufferPointer(start: raw + 4, count: 4))
        }
        return (bytes, text)
    }
}
