import FoundationEssentials
import Logging
import Tracing

/// A swift-log handler that turns each record into an OTLP log record with the current span's
/// trace and span ids, queued on a batch processor (never waiting for the network).
public struct OTLPLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let processor: OTLPBatchProcessor<LogData>
    let limits: OTLPLimits

    public init(label: String, processor: OTLPBatchProcessor<LogData>, logLevel: Logger.Level = .info, limits: OTLPLimits = OTLPLimits()) {
        self.label = label
        self.processor = processor
        self.limits = limits
        self.logLevel = logLevel
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let now = UInt64(Date().timeIntervalSince1970 * 1e9)
        var attributes = [OTLPAttribute("logger.name", .string(label)), OTLPAttribute("code.function", .string(event.function))]
        attributes.append(OTLPAttribute("code.filepath", .string(event.file)))
        attributes.append(OTLPAttribute("code.lineno", .int(Int64(event.line))))
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }).sorted(by: { $0.key < $1.key }) {
            attributes.append(OTLPAttribute(key, .string("\(value)")))
        }
        let spanContext = ServiceContext.current?.otlpSpanContext
        var record = LogData(
            timeUnixNano: now, observedTimeUnixNano: now, severityNumber: Self.severity(event.level), severityText: event.level.rawValue.uppercased(),
            body: .string("\(event.message)"), attributes: attributes, traceID: spanContext?.traceID, spanID: spanContext?.spanID)
        record.flags = UInt32(spanContext?.traceFlags ?? 0)
        limits.apply(to: &record)
        processor.add(record)
    }

    static func severity(_ level: Logger.Level) -> Int32 {
        switch level {
        case .trace: 1
        case .debug: 5
        case .info: 9
        case .notice: 10
        case .warning: 13
        case .error: 17
        case .critical: 21
        }
    }
}
