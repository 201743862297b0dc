import FoundationEssentials
import IMNCore

/// `http`: one HTTP(S) request through libcurl — status, the timing phases (resolve, connect,
/// TLS, request sent, first byte, download), response headers, body size and its first bytes,
/// TLS version, cipher and certificate chain. Redirects are followed hop by hop (each hop's
/// address checked against the target policy), up to `follow_redirects`.
public struct HTTPModule: MeasurementModule {
    public init() {}

    public let spec = ModuleSpec(
        name: "http", version: "1.0.0",
        description: "HTTP(S) GET, HEAD or OPTIONS: status, timing phases, headers, body size, TLS version, cipher and certificates.",
        inputSchema: [
            "type": "object", "required": ["url"], "additionalProperties": false,
            "properties": [
                "url": [
                    "type": "string", "minLength": 8, "maxLength": 2048, "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
                    "description": "http:// or https:// URL.",
                ],
                "method": ["enum": ["GET", "HEAD", "OPTIONS"], "default": "GET"],
                "headers": [
                    "type": "object", "additionalProperties": ["type": "string", "maxLength": 4096],
                    "description": "Request headers, name to value (at most 32).",
                ],
                "http_version": [
                    "enum": ["1.1", "2"], "default": "1.1", "description": "2 is negotiated with ALPN over TLS; plain http stays 1.1.",
                ],
                "resolve": [
                    "type": "string", "maxLength": 45, "description": "Connect to this IPv4/IPv6 address instead of resolving the URL's host.",
                ],
                "follow_redirects": ["type": "integer", "minimum": 0, "maximum": 10, "default": 0, "description": "Redirects to follow."],
                "timeout": ["type": "number", "minimum": 0.1, "maximum": 60, "default": 10, "description": "Seconds for the whole run."],
                "body_bytes": ["type": "integer", "minimum": 0, "maximum": 65536, "default": 512, "description": "First body bytes returned."],
                "max_body_bytes": [
                    "type": "integer", "minimum": 0, "maximum": 104_857_600, "default": 10_485_760,
                    "description": "Download at most this much; a larger body is cut there and the result says truncated.",
                ],
                "insecure": ["type": "boolean", "default": false, "description": "Accept a certificate that does not verify (reported)."],
            ],
        ],
        outputDescription:
            "{url, status, http_version, address, port, timings_ms:{resolve, connect, tls, request_sent, first_byte, download, total}, "
            + "headers, body_size, body, truncated, tls:{version, cipher, alpn, verified, certificates:[…]}, redirects:[…]}",
        outputSchema: Self.outputSchema, maxConcurrency: 8)

    static let outputSchema: JSONValue = [
        "type": "object", "required": ["url", "status", "timings_ms", "headers", "body_size", "redirects"],
        "properties": [
            "url": ["type": "string"], "status": ["type": "integer"], "http_version": ["type": "string"], "address": ["type": "string"],
            "port": ["type": "integer"], "body_size": ["type": "integer"], "body": ["type": "string"], "truncated": ["type": "boolean"],
            "headers": ["type": "object", "additionalProperties": ["type": "string"]],
            "timings_ms": [
                "type": "object", "required": ["resolve", "connect", "request_sent", "first_byte", "download", "total"],
                "additionalProperties": ["type": "number", "minimum": 0],
            ],
            "redirects": ["type": "array", "items": ["type": "object", "required": ["url", "status", "total_ms"]]],
            "tls": ["type": "object", "required": ["version", "cipher", "verified", "certificates"]],
        ],
    ]

    public func run(input: JSONValue, context: ModuleContext) async throws -> JSONValue {
        let url = input["url"]?.stringValue ?? ""
        let options = try HTTPTransfer.Options(input, policy: context.targetPolicy)
        let cancelled = CancelFlag()
        let started = ContinuousClock.now
        let exchange: HTTPTransfer.Exchange
        do {
            exchange = try await withTaskCancellationHandler {
                try await ProbeThreads.pool.runIfActive { try HTTPTransfer.follow(url, options, cancelled: cancelled) }
            } onCancel: {
                cancelled.set()
            }
        } catch {
            context.metrics.probe(module: spec.name, target: url, success: false, duration: ContinuousClock.now - started)
            throw error
        }
        let result = exchange.json
        ProbeSpans.record(
            "http \(options.method)", startedAt: exchange.startedAt, phases: exchange.last.phases.lengths,
            attributes: ["http.response.status_code": "\(exchange.last.status)", "url.full": exchange.last.url])
        context.metrics.http(
            target: url, status: exchange.last.status, phases: exchange.last.phases, duration: ContinuousClock.now - started,
            certificateExpiry: exchange.last.tls?.certificates.first?.notAfter)
        return result
    }
}
