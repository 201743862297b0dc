import CCurl
import FoundationEssentials
import Glibc
import IMNCore

/// HTTP exchanges through libcurl on a probe thread: one transfer per hop, redirects followed
/// by hand so that every hop is timed and every address checked against the target policy
/// before curl connects (`CURLOPT_OPENSOCKETFUNCTION`).
enum HTTPTransfer {
    struct Options: Sendable {
        var method: String
        var headers: [(String, String)]
        var http2: Bool
        var resolve: String?
        var followRedirects: Int
        var timeout: Double
        var bodyBytes: Int
        var maxBodyBytes: Int
        var insecure: Bool
        var policy: TargetPolicy

        static let maxHeaders = 32

        /// From input already checked against the module's schema; header names and values
        /// that would break the request are refused here.
        init(_ input: JSONValue, policy: TargetPolicy) throws(ModuleError) {
            method = input["method"]?.stringValue ?? "GET"
            let given = input["headers"]?.objectValue ?? [:]
            guard given.count <= Self.maxHeaders else { throw ModuleError("at most \(Self.maxHeaders) request headers, not \(given.count)") }
            headers = try given.keys.sorted().map { name throws(ModuleError) in
                let value = given[name]?.stringValue ?? ""
                let token = name.utf8.allSatisfy { $0 > 32 && $0 < 127 && !"()<>@,;:\\\"/[]?={}".utf8.contains($0) }
                guard !name.isEmpty, token else { throw ModuleError("request header name \"\(name)\" is not an HTTP token") }
                guard !value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else {
                    throw ModuleError("request header \(name): the value must not contain CR, LF or NUL")
                }
                return (name, value)
            }
            http2 = input["http_version"]?.stringValue == "2"
            resolve = input["resolve"]?.stringValue
            if let resolve, CIDR.parse(resolve) == nil { throw ModuleError("resolve: \"\(resolve)\" is not an IPv4 or IPv6 address") }
            followRedirects = Int(input["follow_redirects"]?.numberValue ?? 0)
            timeout = input["timeout"]?.numberValue ?? 10
            bodyBytes = Int(input["body_bytes"]?.numberValue ?? 512)
            maxBodyBytes = Int(input["max_body_bytes"]?.numberValue ?? 10_485_760)
            insecure = input["insecure"]?.boolValue ?? false
            self.policy = policy
        }
    }

    /// Every hop of one run; the last is the answer.
    struct Exchange: Sendable {
        var startedAt: UInt64
        var hops: [HTTPHop]
        var last: HTTPHop { hops[hops.count - 1] }

        var json: JSONValue {
            var object = last.json
            object["redirects"] = .array(
                hops.dropLast().map { hop in
                    [
                        "url": .string(hop.url), "status": .number(Double(hop.status)), "address": hop.address.map(JSONValue.string) ?? .null,
                        "total_ms": .number(hop.phases.total.milliseconds), "location": hop.redirectURL.map(JSONValue.string) ?? .null,
                    ]
                })
            let total = hops.map(\.phases.total).reduce(.zero, +)
            if hops.count > 1 { object["total_with_redirects_ms"] = .number(total.milliseconds) }
            return .object(object)
        }
    }

    /// Runs the request and the redirects it is allowed to follow. Blocking.
    static func follow(_ url: String, _ options: Options, cancelled: CancelFlag) throws -> Exchange {
        let startedAt = ProbeSpans.now()
        let deadline = ContinuousClock.now + .milliseconds(Int64(options.timeout * 1000))
        let session = try CurlProbe(options, cancelled: cancelled)
        var hops: [HTTPHop] = []
        var next = url
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw ModuleError("timed out after \(options.timeout) s (\(hops.count) redirects followed)") }
            let hop = try session.perform(next, timeout: left, pinTo: hops.isEmpty ? options.resolve : nil)
            hops.append(hop)
            guard (300..<400).contains(hop.status), let location = hop.redirectURL, hops.count <= options.followRedirects else { break }
            guard location.lowercased().hasPrefix("http://") || location.lowercased().hasPrefix("https://") else {
                throw ModuleError("redirect \(hops.count) from \(hop.url) is to \(location): only http and https are followed")
            }
            next = location
        }
        return Exchange(startedAt: startedAt, hops: hops)
    }
}

/// One response: what curl reports of it.
struct HTTPHop: Sendable {
    struct Phases: Sendable {
        /// Cumulative from the start, as curl gives them (`CURLINFO_*_TIME_T`).
        var resolved: Duration
        var connected: Duration
        var tlsDone: Duration
        var requestSent: Duration
        var firstByte: Duration
        var total: Duration

        /// Each phase's own length, in order.
        var lengths: [(String, Duration)] {
            [
                ("resolve", resolved), ("connect", connected - resolved), ("tls", tlsDone > .zero ? tlsDone - connected : .zero),
                ("request_sent", requestSent - max(connected, tlsDone)), ("first_byte", firstByte - requestSent), ("download", total - firstByte),
            ]
        }
    }

    struct TLS: Sendable {
        var version: String?
        var cipher: String?
        var alpn: String?
        var verified: Bool
        var verifyMessage: String?
        var certificates: [Certificate]
    }

    struct Certificate: Sendable {
        var subject: String
        var issuer: String
        var serial: String?
        var names: [String]
        var notBefore: Double?
        var notAfter: Double?
        var signatureAlgorithm: String?
    }

    var url: String
    var status: Int
    var httpVersion: String
    var address: String?
    var port: Int?
    var headers: [(String, String)]
    var bodySize: Int
    var body: [UInt8]
    var truncated: Bool
    var phases: Phases
    var tls: TLS?
    var redirectURL: String?

    var json: [String: JSONValue] {
        var headerObject: [String: JSONValue] = [:]
        for (name, value) in headers {
            let key = name.lowercased()
            if case .string(let earlier) = headerObject[key] {
                headerObject[key] = .string(earlier + ", " + value)
            } else {
                headerObject[key] = .string(value)
            }
        }
        var timings: [String: JSONValue] = [:]
        for (name, length) in phases.lengths where name != "tls" || tls != nil { timings[name] = .number(max(0, length.milliseconds)) }
        timings["total"] = .number(phases.total.milliseconds)
        var object: [String: JSONValue] = [
            "url": .string(url), "status": .number(Double(status)), "http_version": .string(httpVersion), "headers": .object(headerObject),
            "body_size": .number(Double(bodySize)), "body": .string(String(decoding: body, as: UTF8.self)), "truncated": .bool(truncated),
            "timings_ms": .object(timings),
        ]
        if let address { object["address"] = .string(address) }
        if let port { object["port"] = .number(Double(port)) }
        if let tls {
            let now = Date().timeIntervalSince1970
            object["tls"] = [
                "version": tls.version.map(JSONValue.string) ?? .null, "cipher": tls.cipher.map(JSONValue.string) ?? .null,
                "alpn": tls.alpn.map(JSONValue.string) ?? .null, "verified": .bool(tls.verified),
                "verify_error": tls.verifyMessage.map(JSONValue.string) ?? .null,
                "certificates": .array(
                    tls.certificates.map { certificate in
                        var entry: [String: JSONValue] = [
                            "subject": .string(certificate.subject), "issuer": .string(certificate.issuer),
                            "names": .array(certificate.names.map(JSONValue.string)),
                        ]
                        if let serial = certificate.serial { entry["serial"] = .string(serial) }
                        if let algorithm = certificate.signatureAlgorithm { entry["signature_algorithm"] = .string(algorithm) }
                        if let notBefore = certificate.notBefore { entry["not_before"] = .string(Self.iso(notBefore)) }
                        if let notAfter = certificate.notAfter {
                            entry["not_after"] = .string(Self.iso(notAfter))
                            entry["days_left"] = .number(((notAfter - now) / 86400 * 10).rounded(.down) / 10)
                        }
                        return .object(entry)
                    }),
            ]
        }
        return object
    }

    static func iso(_ seconds: Double) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
