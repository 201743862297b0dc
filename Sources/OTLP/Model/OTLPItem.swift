import IMNCore

/// One decoded span, metric or log record with the resource it came with: what `imn otlp-sink`
/// receives and what the `console` exporter prints.
public enum OTLPItem: Sendable {
    case span(SpanData, OTLPResource)
    case metric(MetricData, OTLPResource)
    case log(LogData, OTLPResource)

    /// The items of one encoded export request.
    public static func decode(_ signal: OTLPSignal, _ body: [UInt8]) throws -> [OTLPItem] {
        switch signal {
        case .traces: try OTLPDecoder.traces(body).flatMap { batch in batch.items.map { .span($0, batch.resource) } }
        case .metrics: try OTLPDecoder.metrics(body).flatMap { batch in batch.items.map { .metric($0, batch.resource) } }
        case .logs: try OTLPDecoder.logs(body).flatMap { batch in batch.items.map { .log($0, batch.resource) } }
        }
    }

    public var serviceName: String {
        let resource: OTLPResource
        switch self {
        case .span(_, let value), .metric(_, let value), .log(_, let value): resource = value
        }
        if case .string(let name) = resource.attributes.first(where: { $0.key == "service.name" })?.value { return name }
        return ""
    }

    public var json: JSONValue {
        switch self {
        case .span(let span, let resource): ["signal": "traces", "service": .string(serviceName), "resource": resource.json, "span": span.json]
        case .metric(let metric, let resource):
            ["signal": "metrics", "service": .string(serviceName), "resource": resource.json, "metric": metric.json]
        case .log(let log, let resource): ["signal": "logs", "service": .string(serviceName), "resource": resource.json, "log": log.json]
        }
    }
}
