import FoundationEssentials
import Glibc
import Logging
import NIOPosix
import Synchronization

/// How one export ended.
public enum OTLPExportOutcome: Sendable, Hashable {
    case exported
    /// Accepted in part: the collector rejected this many items (logged, never retried).
    case partiallyRejected(Int64, String)
    /// Not delivered: a non-retryable answer, or retries did not succeed within the export timeout.
    case dropped(String)
}

/// Counters an exporter keeps (exposed as metrics by the processors that use it).
public struct OTLPExporterStatistics: Sendable, Hashable {
    public var exportedItems = 0
    public var droppedItems = 0
    public var rejectedItems = 0
    public var retries = 0
    public var requests = 0
}

/// OTLP/HTTP with protobuf bodies through libcurl: `POST` to each signal's endpoint, on a thread
/// of its own (never the cooperative pool), one kept-alive connection, optional gzip. Retries only
/// 429, 502, 503, 504 and failures to get an answer, after `Retry-After` (seconds or HTTP date)
/// when given and otherwise after a doubling, jittered backoff, all within the export timeout.
/// `partial_success` is read and logged, never retried. Exports are serialized.
public final class OTLPHTTPExporter: Sendable {
    public let configuration: OTLPExporterConfiguration
    private let logger: Logger
    private let thread: NIOThreadPool
    private let session = CurlSession()
    private let counters = Mutex(OTLPExporterStatistics())
    private let started = Atomic<Bool>(false)
    /// True after a drop until the next success: only the change is logged at warning level, so a
    /// missing collector costs a counter, not a log line per export.
    private let failing = Atomic<Bool>(false)
    /// Set when the process is stopping: one attempt per export, no waiting for retries.
    private let stopping = Atomic<Bool>(false)

    public init(configuration: OTLPExporterConfiguration, logger: Logger = Logger(label: "imn.otlp")) {
        self.configuration = configuration
        self.logger = logger
        self.thread = NIOThreadPool(numberOfThreads: 1)
    }

    public var statistics: OTLPExporterStatistics { counters.withLock { $0 } }

    /// Sends one encoded export request of `items` spans, points or records to the signal's
    /// destinations: standard output as JSON lines (`console`), the collector (`otlp`), or neither.
    /// All attempts end within `timeout` (default: the configuration's export timeout).
    public func export(_ signal: OTLPSignal, body: [UInt8], items: Int, timeout exportTimeout: Duration? = nil) async -> OTLPExportOutcome {
        let destinations = configuration.destinations[signal] ?? [.otlp]
        if destinations.contains(.console) { OTLPConsole.write(signal, body, to: configuration.consoleFileDescriptor) }
        guard destinations.contains(.otlp) else {
            counters.withLock { $0.exportedItems += items }
            return .exported
        }
        if !started.exchange(true, ordering: .acquiringAndReleasing) { thread.start() }
        let url = configuration.endpoints[signal] ?? OTLPExporterConfiguration.join(OTLPExporterConfiguration.defaultEndpoint, signal)
        var headers = [("Content-Type", "application/x-protobuf")] + (configuration.headers[signal] ?? [])
        var payload = body
        if configuration.gzip[signal] == true, let compressed = Gzip.compress(body) {
            payload = compressed
            headers.append(("Content-Encoding", "gzip"))
        }
        let timeout = configuration.timeout[signal] ?? .seconds(10)
        let deadline = ContinuousClock.now + (exportTimeout ?? configuration.exportTimeout)
        let tls = configuration.tls[signal]
        var backoff = configuration.initialBackoff
        var attempt = 0
        while true {
            attempt += 1
            counters.withLock { $0.requests += 1 }
            let remaining = deadline - ContinuousClock.now
            let session = self.session
            let limit = configuration.maxResponseBytes
            let agent = configuration.userAgent
            let (sending, sentHeaders) = (payload, headers)
            let result = try? await thread.runIfActive {
                session.post(
                    url: url, body: sending, headers: sentHeaders, timeout: min(timeout, remaining), maxResponseBytes: limit, userAgent: agent,
                    tls: tls)
            }
            var wait: Duration
            var reason: String
            switch result {
            case .success(let response) where (200..<300).contains(response.status):
                if let (rejected, message) = OTLPDecoder.partialSuccess(response.body) {
                    logger.warning(
                        "collector rejected part of an export",
                        metadata: ["otlp.signal": "\(signal.rawValue)", "otlp.rejected": "\(rejected)", "otlp.message": "\(message)"])
                    counters.withLock {
                        $0.exportedItems += max(0, items - Int(rejected))
                        $0.rejectedItems += Int(rejected)
                    }
                    return .partiallyRejected(rejected, message)
                }
                counters.withLock { $0.exportedItems += items }
                if failing.exchange(false, ordering: .relaxed) {
                    logger.info("OTLP exports succeed again", metadata: ["otlp.signal": "\(signal.rawValue)", "otlp.url": "\(url)"])
                }
                return .exported
            case .success(let response) where [429, 502, 503, 504].contains(response.status):
                reason = "HTTP \(response.status)"
                wait = response.retryAfterSeconds > 0 ? .seconds(response.retryAfterSeconds) : Self.jittered(backoff)
            case .success(let response):
                return drop(items, signal, "HTTP \(response.status): \(Self.statusMessage(response.body))")
            case .failure(.connection(let message)):
                reason = message
                wait = Self.jittered(backoff)
            case .failure(.responseTooLarge):
                return drop(items, signal, "response larger than \(configuration.maxResponseBytes) bytes")
            case .failure(.other(let message)):
                return drop(items, signal, message)
            case nil:
                return drop(items, signal, "the exporter is shut down")
            }
            guard !Task.isCancelled, !stopping.load(ordering: .relaxed) else { return drop(items, signal, "\(reason); no retries while stopping") }
            guard ContinuousClock.now + wait < deadline else {
                return drop(items, signal, "\(reason); no retry fits in the export timeout after \(attempt) attempts")
            }
            logger.debug("OTLP export will be retried", metadata: ["otlp.signal": "\(signal.rawValue)", "reason": "\(reason)", "wait": "\(wait)"])
            counters.withLock { $0.retries += 1 }
            try? await Task.sleep(for: wait)
            backoff = min(backoff * 2, configuration.maxBackoff)
        }
    }

    /// From now on each export makes one attempt (shutdown must not wait out an absent collector).
    public func beginShutdown() { stopping.store(true, ordering: .relaxed) }

    public func shutdown() async {
        if started.load(ordering: .acquiring) { try? await thread.shutdownGracefully() }
    }

    private func drop(_ items: Int, _ signal: OTLPSignal, _ reason: String) -> OTLPExportOutcome {
        counters.withLock { $0.droppedItems += items }
        let metadata: Logger.Metadata = ["otlp.signal": "\(signal.rawValue)", "otlp.items": "\(items)", "reason": "\(reason)"]
        if failing.exchange(true, ordering: .relaxed) {
            logger.debug("OTLP export dropped", metadata: metadata)
        } else {
            logger.warning("OTLP export dropped; further drops are counted, not logged, until exports succeed again", metadata: metadata)
        }
        return .dropped(reason)
    }

    /// ±20 % around `delay`, so many exporters do not retry in step.
    static func jittered(_ delay: Duration) -> Duration { delay * Double.random(in: 0.8...1.2) }

    /// The message of a `google.rpc.Status` error body (field 2), or the start of the body as text.
    static func statusMessage(_ body: [UInt8]) -> String {
        var index = 0
        func varint() -> Int? {
            var value = 0
            var shift = 0
            while index < body.count, shift < 63 {
                let byte = body[index]
                index += 1
                value |= Int(byte & 0x7F) << shift
                shift += 7
                if byte & 0x80 == 0 { return value }
            }
            return nil
        }
        while index < body.count, let key = varint() {
            switch key & 7 {
            case 0: guard varint() != nil else { return "" }
            case 2:
                guard let length = varint(), length >= 0, index + length <= body.count else { return "" }
                if key >> 3 == 2 { return String(decoding: body[index..<index + length], as: UTF8.self) }
                index += length
            default: return String(decoding: body.prefix(200), as: UTF8.self)
            }
        }
        return String(decoding: body.prefix(200), as: UTF8.self)
    }
}
