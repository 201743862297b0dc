/// A log record as exported (OTLP `LogRecord`).
public struct LogData: Sendable, Hashable {
    public var timeUnixNano: UInt64
    public var observedTimeUnixNano: UInt64
    /// 1–4 trace, 5–8 debug, 9–12 info, 13–16 warn, 17–20 error, 21–24 fatal.
    public var severityNumber: Int32
    public var severityText: String
    public var body: OTLPValue?
    public var attributes: [OTLPAttribute]
    public var droppedAttributesCount: UInt32 = 0
    /// W3C trace flags of the span the record was made in.
    public var flags: UInt32 = 0
    public var traceID: TraceID?
    public var spanID: SpanID?
    public var eventName: String = ""

    public init(
        timeUnixNano: UInt64, observedTimeUnixNano: UInt64, severityNumber: Int32, severityText: String, body: OTLPValue?,
        attributes: [OTLPAttribute] = [], traceID: TraceID? = nil, spanID: SpanID? = nil
    ) {
        self.timeUnixNano = timeUnixNano
        self.observedTimeUnixNano = observedTimeUnixNano
        self.severityNumber = severityNumber
        self.severityText = severityText
        self.body = body
        self.attributes = attributes
        self.traceID = traceID
        self.spanID = spanID
    }
}
