import Foundation
import Hummingbird
import IMNCore
import Logging
import NIOCore
import OTLP
import Synchronization

/// `imn otlp-sink`: an OTLP/HTTP receiver (`POST /v1/traces`, `/v1/metrics`, `/v1/logs`,
/// protobuf, gzip or not) that decodes what it gets with our protobuf-c code and hands each item
/// on: printed by the command, kept in memory for tests.
public final class OTLPSink: Sendable {
    /// One received item with the resource it came with.
    public typealias Item = OTLPItem

    public let host: String
    public let port: Int
    private let kept = Mutex<[Item]>([])
    private let keep: Int
    private let onItems: @Sendable ([Item]) -> Void
    private let logger: Logger

    /// `keep`: how many items to hold in memory (the newest), for ``items``.
    public init(
        host: String = "127.0.0.1", port: Int = 4318, keep: Int = 100_000, logger: Logger = Logger(label: "imn.otlp-sink"),
        onItems: @escaping @Sendable ([Item]) -> Void = { _ in }
    ) {
        self.host = host
        self.port = port
        self.keep = keep
        self.logger = logger
        self.onItems = onItems
    }

    public var items: [Item] { kept.withLock { $0 } }

    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let router = Router()
        for signal in OTLPSignal.allCases {
            router.post(RouterPath(stringLiteral: signal.defaultPath)) { request, _ -> Response in
                await self.receive(signal, request)
            }
        }
        var quiet = logger
        quiet.logLevel = .warning
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "imn-otlp-sink"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) }, logger: quiet)
        try await app.run()
    }

    func receive(_ signal: OTLPSignal, _ request: Request) async -> Response {
        guard let buffer = try? await request.body.collect(upTo: 64 << 20) else { return Self.status(413, "body over 64 MiB") }
        var body = Array(buffer: buffer)
        if request.headers[.contentEncoding]?.lowercased() == "gzip" {
            guard let inflated = OTLPGzip.decompress(body, limit: 64 << 20) else { return Self.status(400, "bad gzip body") }
            body = inflated
        }
        let items: [Item]
        do {
            items = try OTLPItem.decode(signal, body)
        } catch {
            return Self.status(400, "\(error)")
        }
        kept.withLock { kept in
            kept.append(contentsOf: items)
            if kept.count > keep { kept.removeFirst(kept.count - keep) }
        }
        onItems(items)
        var headers = HTTPFields()
        headers[.contentType] = "application/x-protobuf"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer()))  // an empty Export…ServiceResponse
    }

    /// An error answer with a `google.rpc.Status` body (code, message).
    static func status(_ code: Int, _ message: String) -> Response {
        let text = Array(message.utf8.prefix(120))
        var headers = HTTPFields()
        headers[.contentType] = "application/x-protobuf"
        let body: [UInt8] = [0x08, code == 400 ? 3 : 8, 0x12, UInt8(text.count)] + text
        return Response(status: HTTPResponse.Status(code: code), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension OTLPItem {
    /// One line for `imn otlp-sink --format text`.
    public var text: String {
        switch self {
        case .span(let span, _):
            let attributes = span.attributes.map { "\($0.key)=\($0.value.text)" }.joined(separator: " ")
            return
                "span   \(serviceName) \(span.name) [\(span.kind)] trace=\(span.traceID) span=\(span.spanID) parent=\(span.parentSpanID?.description ?? "-") "
                + String(format: "%.3f ms", Double(span.endTimeUnixNano &- span.startTimeUnixNano) / 1e6) + " \(span.statusCode) \(attributes)"
        case .metric(let metric, _):
            return "metric \(serviceName) \(metric.json.text)"
        case .log(let log, _):
            return "log    \(serviceName) \(log.severityText) \(log.body?.text ?? "") trace=\(log.traceID?.description ?? "-")"
        }
    }
}
