import COTLP

/// What a decoded export request held: per resource and scope, its items.
public struct OTLPBatch<Item: Sendable>: Sendable {
    public var resource: OTLPResource
    public var scope: OTLPScope
    public var items: [Item]
}

public struct OTLPDecodingError: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) { self.description = description }
}

/// Decodes export requests and responses with protobuf-c (for `imn otlp-sink` and tests).
public enum OTLPDecoder {
    public static func traces(_ bytes: [UInt8]) throws -> [OTLPBatch<SpanData>] {
        guard let request = bytes.withUnsafeBufferPointer({ imn__otlp__export_trace_service_request__unpack(nil, $0.count, $0.baseAddress) }) else {
            throw OTLPDecodingError(description: "not an ExportTraceServiceRequest")
        }
        defer { imn__otlp__export_trace_service_request__free_unpacked(request, nil) }
        var batches: [OTLPBatch<SpanData>] = []
        for resourceSpans in list(request.pointee.resource_spans, request.pointee.n_resource_spans) {
            for scopeSpans in list(resourceSpans.pointee.scope_spans, resourceSpans.pointee.n_scope_spans) {
                batches.append(
                    OTLPBatch(
                        resource: resource(resourceSpans.pointee.resource), scope: scope(scopeSpans.pointee.scope),
                        items: list(scopeSpans.pointee.spans, scopeSpans.pointee.n_spans).map(span)))
            }
        }
        return batches
    }

    public static func metrics(_ bytes: [UInt8]) throws -> [OTLPBatch<MetricData>] {
        guard let request = bytes.withUnsafeBufferPointer({ imn__otlp__export_metrics_service_request__unpack(nil, $0.count, $0.baseAddress) })
        else { throw OTLPDecodingError(description: "not an ExportMetricsServiceRequest") }
        defer { imn__otlp__export_metrics_service_request__free_unpacked(request, nil) }
        var batches: [OTLPBatch<MetricData>] = []
        for resourceMetrics in list(request.pointee.resource_metrics, request.pointee.n_resource_metrics) {
            for scopeMetrics in list(resourceMetrics.pointee.scope_metrics, resourceMetrics.pointee.n_scope_metrics) {
                batches.append(
                    OTLPBatch(
                        resource: resource(resourceMetrics.pointee.resource), scope: scope(scopeMetrics.pointee.scope),
                        items: list(scopeMetrics.pointee.metrics, scopeMetrics.pointee.n_metrics).compactMap(metric)))
            }
        }
        return batches
    }

    public static func logs(_ bytes: [UInt8]) throws -> [OTLPBatch<LogData>] {
        guard let request = bytes.withUnsafeBufferPointer({ imn__otlp__export_logs_service_request__unpack(nil, $0.count, $0.baseAddress) }) else {
            throw OTLPDecodingError(description: "not an ExportLogsServiceRequest")
        }
        defer { imn__otlp__export_logs_service_request__free_unpacked(request, nil) }
        var batches: [OTLPBatch<LogData>] = []
        for resourceLogs in list(request.pointee.resource_logs, request.pointee.n_resource_logs) {
            for scopeLogs in list(resourceLogs.pointee.scope_logs, resourceLogs.pointee.n_scope_logs) {
                batches.append(
                    OTLPBatch(
                        resource: resource(resourceLogs.pointee.resource), scope: scope(scopeLogs.pointee.scope),
                        items: list(scopeLogs.pointee.log_records, scopeLogs.pointee.n_log_records).map(log)))
            }
        }
        return batches
    }

    /// The `partial_success` of an export response: rejected count and message, nil when unset
    /// (or set to 0 with no message, as the Collector does).
    public static func partialSuccess(_ bytes: [UInt8]) -> (rejected: Int64, message: String)? {
        // The three responses share one shape: field 1 = { int64 rejected = 1; string error_message = 2; }.
        guard
            let response = bytes.withUnsafeBufferPointer({ imn__otlp__export_trace_service_response__unpack(nil, $0.count, $0.baseAddress) })
        else { return nil }
        defer { imn__otlp__export_trace_service_response__free_unpacked(response, nil) }
        guard let partial = response.pointee.partial_success else { return nil }
        let message = string(partial.pointee.error_message)
        if partial.pointee.rejected_spans == 0 && message.isEmpty { return nil }
        return (partial.pointee.rejected_spans, message)
    }

    // MARK: C → Swift

    static func list<T>(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ count: Int) -> [UnsafeMutablePointer<T>] {
        guard let pointer, count > 0 else { return [] }
        return (0..<count).compactMap { pointer[$0] }
    }

    static func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: pointer)
    }

    static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let pointer = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: pointer, count: data.len))
    }

    static func attributes(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<Imn__Otlp__KeyValue>?>?, _ count: Int) -> [OTLPAttribute] {
        list(pointer, count).map { OTLPAttribute(string($0.pointee.key), $0.pointee.value.map(value) ?? .string("")) }
    }

    static func value(_ message: UnsafeMutablePointer<Imn__Otlp__AnyValue>) -> OTLPValue {
        switch message.pointee.value_case {
        case IMN__OTLP__ANY_VALUE__VALUE_STRING_VALUE: return .string(string(message.pointee.string_value))
        case IMN__OTLP__ANY_VALUE__VALUE_BOOL_VALUE: return .bool(message.pointee.bool_value != 0)
        case IMN__OTLP__ANY_VALUE__VALUE_INT_VALUE: return .int(message.pointee.int_value)
        case IMN__OTLP__ANY_VALUE__VALUE_DOUBLE_VALUE: return .double(message.pointee.double_value)
        case IMN__OTLP__ANY_VALUE__VALUE_BYTES_VALUE: return .bytes(bytes(message.pointee.bytes_value))
        case IMN__OTLP__ANY_VALUE__VALUE_ARRAY_VALUE:
            guard let array = message.pointee.array_value else { return .array([]) }
            return .array(list(array.pointee.values, array.pointee.n_values).map(value))
        case IMN__OTLP__ANY_VALUE__VALUE_KVLIST_VALUE:
            guard let map = message.pointee.kvlist_value else { return .map([]) }
            return .map(attributes(map.pointee.values, map.pointee.n_values))
        default: return .string("")
        }
    }

    static func resource(_ message: UnsafeMutablePointer<Imn__Otlp__Resource>?) -> OTLPResource {
        guard let message else { return OTLPResource(attributes: []) }
        var resource = OTLPResource(attributes: attributes(message.pointee.attributes, message.pointee.n_attributes))
        resource.droppedAttributesCount = message.pointee.dropped_attributes_count
        return resource
    }

    static func scope(_ message: UnsafeMutablePointer<Imn__Otlp__InstrumentationScope>?) -> OTLPScope {
        guard let message else { return OTLPScope(name: "") }
        var scope = OTLPScope(name: string(message.pointee.name), version: string(message.pointee.version))
        scope.attributes = attributes(message.pointee.attributes, message.pointee.n_attributes)
        return scope
    }

    static func span(_ message: UnsafeMutablePointer<Imn__Otlp__Span>) -> SpanData {
        let m = message.pointee
        var span = SpanData(
            traceID: TraceID(bytes: bytes(m.trace_id)) ?? TraceID(high: 0, low: 0), spanID: SpanID(bytes: bytes(m.span_id)) ?? SpanID(0),
            parentSpanID: SpanID(bytes: bytes(m.parent_span_id)), name: string(m.name),
            kind: SpanData.Kind(rawValue: Int32(truncatingIfNeeded: m.kind.rawValue)) ?? .unspecified,
            startTimeUnixNano: m.start_time_unix_nano, endTimeUnixNano: m.end_time_unix_nano)
        span.traceState = string(m.trace_state)
        span.attributes = attributes(m.attributes, m.n_attributes)
        span.droppedAttributesCount = m.dropped_attributes_count
        span.events = list(m.events, m.n_events).map { event in
            var value = SpanData.Event(
                timeUnixNano: event.pointee.time_unix_nano, name: string(event.pointee.name),
                attributes: attributes(event.pointee.attributes, event.pointee.n_attributes))
            value.droppedAttributesCount = event.pointee.dropped_attributes_count
            return value
        }
        span.droppedEventsCount = m.dropped_events_count
        span.links = list(m.links, m.n_links).map { link in
            var value = SpanData.Link(
                traceID: TraceID(bytes: bytes(link.pointee.trace_id)) ?? TraceID(high: 0, low: 0),
                spanID: SpanID(bytes: bytes(link.pointee.span_id)) ?? SpanID(0), traceState: string(link.pointee.trace_state),
                attributes: attributes(link.pointee.attributes, link.pointee.n_attributes), flags: link.pointee.flags)
            value.droppedAttributesCount = link.pointee.dropped_attributes_count
            return value
        }
        span.droppedLinksCount = m.dropped_links_count
        if let status = m.status {
            span.statusCode = SpanData.StatusCode(rawValue: Int32(truncatingIfNeeded: status.pointee.code.rawValue)) ?? .unset
            span.statusMessage = string(status.pointee.message)
        }
        span.flags = m.flags
        return span
    }

    static func metric(_ message: UnsafeMutablePointer<Imn__Otlp__Metric>) -> MetricData? {
        let m = message.pointee
        let data: MetricData.Data
        switch m.data_case {
        case IMN__OTLP__METRIC__DATA_GAUGE:
            guard let gauge = m.gauge else { return nil }
            data = .gauge(list(gauge.pointee.data_points, gauge.pointee.n_data_points).map(numberPoint))
        case IMN__OTLP__METRIC__DATA_SUM:
            guard let sum = m.sum else { return nil }
            data = .sum(
                list(sum.pointee.data_points, sum.pointee.n_data_points).map(numberPoint),
                temporality: MetricData.Temporality(rawValue: Int32(truncatingIfNeeded: sum.pointee.aggregation_temporality.rawValue))
                    ?? .unspecified,
                monotonic: sum.pointee.is_monotonic != 0)
        case IMN__OTLP__METRIC__DATA_HISTOGRAM:
            guard let histogram = m.histogram else { return nil }
            data = .histogram(
                list(histogram.pointee.data_points, histogram.pointee.n_data_points).map(histogramPoint),
                temporality: MetricData.Temporality(rawValue: Int32(truncatingIfNeeded: histogram.pointee.aggregation_temporality.rawValue))
                    ?? .unspecified)
        default: return nil
        }
        return MetricData(name: string(m.name), description: string(m.description), unit: string(m.unit), data: data)
    }

    static func numberPoint(_ message: UnsafeMutablePointer<Imn__Otlp__NumberDataPoint>) -> NumberPoint {
        let m = message.pointee
        var point = NumberPoint(
            attributes: attributes(m.attributes, m.n_attributes), startTimeUnixNano: m.start_time_unix_nano, timeUnixNano: m.time_unix_nano,
            value: m.value_case == IMN__OTLP__NUMBER_DATA_POINT__VALUE_AS_INT ? .int(m.as_int) : .double(m.as_double))
        point.flags = m.flags
        return point
    }

    static func histogramPoint(_ message: UnsafeMutablePointer<Imn__Otlp__HistogramDataPoint>) -> HistogramPoint {
        let m = message.pointee
        var point = HistogramPoint(
            attributes: attributes(m.attributes, m.n_attributes), startTimeUnixNano: m.start_time_unix_nano, timeUnixNano: m.time_unix_nano,
            count: m.count, sum: m._sum_case == IMN__OTLP__HISTOGRAM_DATA_POINT___SUM_SUM ? m.sum : nil,
            bucketCounts: m.bucket_counts.map { Array(UnsafeBufferPointer(start: $0, count: m.n_bucket_counts)) } ?? [],
            explicitBounds: m.explicit_bounds.map { Array(UnsafeBufferPointer(start: $0, count: m.n_explicit_bounds)) } ?? [],
            min: m._min_case == IMN__OTLP__HISTOGRAM_DATA_POINT___MIN_MIN ? m.min : nil,
            max: m._max_case == IMN__OTLP__HISTOGRAM_DATA_POINT___MAX_MAX ? m.max : nil)
        point.flags = m.flags
        return point
    }

    static func log(_ message: UnsafeMutablePointer<Imn__Otlp__LogRecord>) -> LogData {
        let m = message.pointee
        var record = LogData(
            timeUnixNano: m.time_unix_nano, observedTimeUnixNano: m.observed_time_unix_nano,
            severityNumber: Int32(truncatingIfNeeded: m.severity_number.rawValue), severityText: string(m.severity_text), body: m.body.map(value),
            attributes: attributes(m.attributes, m.n_attributes), traceID: TraceID(bytes: bytes(m.trace_id)), spanID: SpanID(bytes: bytes(m.span_id)))
        record.droppedAttributesCount = m.dropped_attributes_count
        record.flags = m.flags
        record.eventName = string(m.event_name)
        return record
    }
}

/// The three OTLP signals and their default paths.
public enum OTLPSignal: String, Sendable, CaseIterable {
    case traces, metrics, logs

    public var defaultPath: String { "/v1/\(rawValue)" }
}
