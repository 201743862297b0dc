import COTLP

/// Encodes export requests (`ExportTraceServiceRequest`, `…Metrics…`, `…Logs…`) in OTLP's
/// protobuf wire format through the protobuf-c structures generated from proto/otlp/otlp.proto.
/// Each call builds its C structures in an ``Arena`` that is released when the call returns.
public enum OTLPEncoder {
    public static func traces(resource: OTLPResource, scope: OTLPScope, spans: [SpanData]) -> [UInt8] {
        let arena = Arena()
        let scopeSpans = arena.message(Imn__Otlp__ScopeSpans.self) { imn__otlp__scope_spans__init($0) }
        scopeSpans.pointee.scope = arena.scope(scope)
        scopeSpans.pointee.n_spans = spans.count
        scopeSpans.pointee.spans = arena.array(spans.count) { arena.span(spans[$0]) }
        let resourceSpans = arena.message(Imn__Otlp__ResourceSpans.self) { imn__otlp__resource_spans__init($0) }
        resourceSpans.pointee.resource = arena.resource(resource)
        resourceSpans.pointee.n_scope_spans = 1
        resourceSpans.pointee.scope_spans = arena.array(1) { _ in scopeSpans }
        var request = Imn__Otlp__ExportTraceServiceRequest()
        imn__otlp__export_trace_service_request__init(&request)
        request.n_resource_spans = 1
        request.resource_spans = arena.array(1) { _ in resourceSpans }
        return pack(imn__otlp__export_trace_service_request__get_packed_size(&request)) {
            imn__otlp__export_trace_service_request__pack(&request, $0)
        }
    }

    public static func metrics(resource: OTLPResource, scope: OTLPScope, metrics: [MetricData]) -> [UInt8] {
        let arena = Arena()
        let scopeMetrics = arena.message(Imn__Otlp__ScopeMetrics.self) { imn__otlp__scope_metrics__init($0) }
        scopeMetrics.pointee.scope = arena.scope(scope)
        scopeMetrics.pointee.n_metrics = metrics.count
        scopeMetrics.pointee.metrics = arena.array(metrics.count) { arena.metric(metrics[$0]) }
        let resourceMetrics = arena.message(Imn__Otlp__ResourceMetrics.self) { imn__otlp__resource_metrics__init($0) }
        resourceMetrics.pointee.resource = arena.resource(resource)
        resourceMetrics.pointee.n_scope_metrics = 1
        resourceMetrics.pointee.scope_metrics = arena.array(1) { _ in scopeMetrics }
        var request = Imn__Otlp__ExportMetricsServiceRequest()
        imn__otlp__export_metrics_service_request__init(&request)
        request.n_resource_metrics = 1
        request.resource_metrics = arena.array(1) { _ in resourceMetrics }
        return pack(imn__otlp__export_metrics_service_request__get_packed_size(&request)) {
            imn__otlp__export_metrics_service_request__pack(&request, $0)
        }
    }

    public static func logs(resource: OTLPResource, scope: OTLPScope, logs: [LogData]) -> [UInt8] {
        let arena = Arena()
        let scopeLogs = arena.message(Imn__Otlp__ScopeLogs.self) { imn__otlp__scope_logs__init($0) }
        scopeLogs.pointee.scope = arena.scope(scope)
        scopeLogs.pointee.n_log_records = logs.count
        scopeLogs.pointee.log_records = arena.array(logs.count) { arena.log(logs[$0]) }
        let resourceLogs = arena.message(Imn__Otlp__ResourceLogs.self) { imn__otlp__resource_logs__init($0) }
        resourceLogs.pointee.resource = arena.resource(resource)
        resourceLogs.pointee.n_scope_logs = 1
        resourceLogs.pointee.scope_logs = arena.array(1) { _ in scopeLogs }
        var request = Imn__Otlp__ExportLogsServiceRequest()
        imn__otlp__export_logs_service_request__init(&request)
        request.n_resource_logs = 1
        request.resource_logs = arena.array(1) { _ in resourceLogs }
        return pack(imn__otlp__export_logs_service_request__get_packed_size(&request)) { imn__otlp__export_logs_service_request__pack(&request, $0) }
    }

    static func pack(_ size: Int, _ write: (UnsafeMutablePointer<UInt8>) -> Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            guard let base = buffer.baseAddress, size > 0 else {
                count = 0
                return
            }
            count = write(base)
        }
    }
}

// Swift values → protobuf-c structures, all allocated in the arena.
extension Arena {
    func resource(_ resource: OTLPResource) -> UnsafeMutablePointer<Imn__Otlp__Resource> {
        let message = self.message(Imn__Otlp__Resource.self) { imn__otlp__resource__init($0) }
        (message.pointee.n_attributes, message.pointee.attributes) = attributes(resource.attributes)
        message.pointee.dropped_attributes_count = resource.droppedAttributesCount
        return message
    }

    func scope(_ scope: OTLPScope) -> UnsafeMutablePointer<Imn__Otlp__InstrumentationScope> {
        let message = self.message(Imn__Otlp__InstrumentationScope.self) { imn__otlp__instrumentation_scope__init($0) }
        message.pointee.name = string(scope.name)
        message.pointee.version = string(scope.version)
        (message.pointee.n_attributes, message.pointee.attributes) = attributes(scope.attributes)
        return message
    }

    func attributes(_ attributes: [OTLPAttribute]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Imn__Otlp__KeyValue>?>?) {
        (attributes.count, array(attributes.count) { keyValue(attributes[$0]) })
    }

    func keyValue(_ attribute: OTLPAttribute) -> UnsafeMutablePointer<Imn__Otlp__KeyValue> {
        let message = self.message(Imn__Otlp__KeyValue.self) { imn__otlp__key_value__init($0) }
        message.pointee.key = string(attribute.key)
        message.pointee.value = value(attribute.value)
        return message
    }

    func value(_ value: OTLPValue) -> UnsafeMutablePointer<Imn__Otlp__AnyValue> {
        let message = self.message(Imn__Otlp__AnyValue.self) { imn__otlp__any_value__init($0) }
        switch value {
        case .string(let text):
            message.pointee.value_case = IMN__OTLP__ANY_VALUE__VALUE_STRING_VALUE
            message.pointee.string_value = string(text)
        case .bool(let flag):
            message.pointee.value_case = IMN__OTLP__ANY_VALUE__VALUE_BOOL_VALUE
            message.pointee.bool_value = flag ? 1 : 0
        case .int(let number):
            message.pointee.value_case = IMN__OTLP__ANY_VALUE__VALUE_INT_VALUE
            message.pointee.int_value = number
        case .double(let number):
            message.pointee.value_case = IMN__OTLP__ANY_VALUE__VALUE_DOUBLE_VALUE
            message.pointee.double_value = number
        case .bytes(let data):
            message.pointee.value_case = IMN__OTLP__ANY_VALUE__VALUE_BYTES_VALUE
            message.pointee.bytes_value = bytes(data)
        case .array(let values):
            let list = self.message(Imn__Otlp__ArrayValue.self) { imn__otlp__array_value__init($0) }
            list.pointee.n_values = values.count
            list.pointee.values = array(values.count) { self.value(values[$0]) }
            message.pointee.value_case = IMN__OTLP__ANY_VALUE__VALUE_ARRAY_VALUE
            message.pointee.array_value = list
        case .map(let entries):
            let list = self.message(Imn__Otlp__KeyValueList.self) { imn__otlp__key_value_list__init($0) }
            (list.pointee.n_values, list.pointee.values) = attributes(entries)
            message.pointee.value_case = IMN__OTLP__ANY_VALUE__VALUE_KVLIST_VALUE
            message.pointee.kvlist_value = list
        }
        return message
    }

    func span(_ span: SpanData) -> UnsafeMutablePointer<Imn__Otlp__Span> {
        let message = self.message(Imn__Otlp__Span.self) { imn__otlp__span__init($0) }
        message.pointee.trace_id = id(span.traceID.high, span.traceID.low)
        message.pointee.span_id = id(span.spanID.value)
        message.pointee.trace_state = string(span.traceState)
        if let parent = span.parentSpanID { message.pointee.parent_span_id = id(parent.value) }
        message.pointee.name = string(span.name)
        message.pointee.kind = Imn__Otlp__Span__SpanKind(rawValue: numericCast(span.kind.rawValue))
        message.pointee.start_time_unix_nano = span.startTimeUnixNano
        message.pointee.end_time_unix_nano = span.endTimeUnixNano
        (message.pointee.n_attributes, message.pointee.attributes) = attributes(span.attributes)
        message.pointee.dropped_attributes_count = span.droppedAttributesCount
        message.pointee.n_events = span.events.count
        message.pointee.events = array(span.events.count) { index in
            let event = span.events[index]
            let element = self.message(Imn__Otlp__Span__Event.self) { imn__otlp__span__event__init($0) }
            element.pointee.time_unix_nano = event.timeUnixNano
            element.pointee.name = string(event.name)
            (element.pointee.n_attributes, element.pointee.attributes) = attributes(event.attributes)
            element.pointee.dropped_attributes_count = event.droppedAttributesCount
            return element
        }
        message.pointee.dropped_events_count = span.droppedEventsCount
        message.pointee.n_links = span.links.count
        message.pointee.links = array(span.links.count) { index in
            let link = span.links[index]
            let element = self.message(Imn__Otlp__Span__Link.self) { imn__otlp__span__link__init($0) }
            element.pointee.trace_id = id(link.traceID.high, link.traceID.low)
            element.pointee.span_id = id(link.spanID.value)
            element.pointee.trace_state = string(link.traceState)
            (element.pointee.n_attributes, element.pointee.attributes) = attributes(link.attributes)
            element.pointee.dropped_attributes_count = link.droppedAttributesCount
            element.pointee.flags = link.flags
            return element
        }
        message.pointee.dropped_links_count = span.droppedLinksCount
        if span.statusCode != .unset || !span.statusMessage.isEmpty {
            let status = self.message(Imn__Otlp__Status.self) { imn__otlp__status__init($0) }
            status.pointee.code = Imn__Otlp__Status__StatusCode(rawValue: numericCast(span.statusCode.rawValue))
            status.pointee.message = string(span.statusMessage)
            message.pointee.status = status
        }
        message.pointee.flags = span.flags
        return message
    }

    func metric(_ metric: MetricData) -> UnsafeMutablePointer<Imn__Otlp__Metric> {
        let message = self.message(Imn__Otlp__Metric.self) { imn__otlp__metric__init($0) }
        message.pointee.name = string(metric.name)
        message.pointee.description = string(metric.description)
        message.pointee.unit = string(metric.unit)
        switch metric.data {
        case .gauge(let points):
            let gauge = self.message(Imn__Otlp__Gauge.self) { imn__otlp__gauge__init($0) }
            gauge.pointee.n_data_points = points.count
            gauge.pointee.data_points = array(points.count) { numberPoint(points[$0]) }
            message.pointee.data_case = IMN__OTLP__METRIC__DATA_GAUGE
            message.pointee.gauge = gauge
        case .sum(let points, let temporality, let monotonic):
            let sum = self.message(Imn__Otlp__Sum.self) { imn__otlp__sum__init($0) }
            sum.pointee.n_data_points = points.count
            sum.pointee.data_points = array(points.count) { numberPoint(points[$0]) }
            sum.pointee.aggregation_temporality = Imn__Otlp__AggregationTemporality(rawValue: numericCast(temporality.rawValue))
            sum.pointee.is_monotonic = monotonic ? 1 : 0
            message.pointee.data_case = IMN__OTLP__METRIC__DATA_SUM
            message.pointee.sum = sum
        case .histogram(let points, let temporality):
            let histogram = self.message(Imn__Otlp__Histogram.self) { imn__otlp__histogram__init($0) }
            histogram.pointee.n_data_points = points.count
            histogram.pointee.data_points = array(points.count) { histogramPoint(points[$0]) }
            histogram.pointee.aggregation_temporality = Imn__Otlp__AggregationTemporality(rawValue: numericCast(temporality.rawValue))
            message.pointee.data_case = IMN__OTLP__METRIC__DATA_HISTOGRAM
            message.pointee.histogram = histogram
        }
        return message
    }

    func numberPoint(_ point: NumberPoint) -> UnsafeMutablePointer<Imn__Otlp__NumberDataPoint> {
        let message = self.message(Imn__Otlp__NumberDataPoint.self) { imn__otlp__number_data_point__init($0) }
        (message.pointee.n_attributes, message.pointee.attributes) = attributes(point.attributes)
        message.pointee.start_time_unix_nano = point.startTimeUnixNano
        message.pointee.time_unix_nano = point.timeUnixNano
        switch point.value {
        case .double(let value):
            message.pointee.value_case = IMN__OTLP__NUMBER_DATA_POINT__VALUE_AS_DOUBLE
            message.pointee.as_double = value
        case .int(let value):
            message.pointee.value_case = IMN__OTLP__NUMBER_DATA_POINT__VALUE_AS_INT
            message.pointee.as_int = value
        }
        message.pointee.flags = point.flags
        return message
    }

    func histogramPoint(_ point: HistogramPoint) -> UnsafeMutablePointer<Imn__Otlp__HistogramDataPoint> {
        let message = self.message(Imn__Otlp__HistogramDataPoint.self) { imn__otlp__histogram_data_point__init($0) }
        (message.pointee.n_attributes, message.pointee.attributes) = attributes(point.attributes)
        message.pointee.start_time_unix_nano = point.startTimeUnixNano
        message.pointee.time_unix_nano = point.timeUnixNano
        message.pointee.count = point.count
        if let sum = point.sum {
            message.pointee._sum_case = IMN__OTLP__HISTOGRAM_DATA_POINT___SUM_SUM
            message.pointee.sum = sum
        }
        message.pointee.n_bucket_counts = point.bucketCounts.count
        message.pointee.bucket_counts = array(point.bucketCounts.count) { point.bucketCounts[$0] }
        message.pointee.n_explicit_bounds = point.explicitBounds.count
        message.pointee.explicit_bounds = array(point.explicitBounds.count) { point.explicitBounds[$0] }
        if let min = point.min {
            message.pointee._min_case = IMN__OTLP__HISTOGRAM_DATA_POINT___MIN_MIN
            message.pointee.min = min
        }
        if let max = point.max {
            message.pointee._max_case = IMN__OTLP__HISTOGRAM_DATA_POINT___MAX_MAX
            message.pointee.max = max
        }
        message.pointee.flags = point.flags
        return message
    }

    func log(_ record: LogData) -> UnsafeMutablePointer<Imn__Otlp__LogRecord> {
        let message = self.message(Imn__Otlp__LogRecord.self) { imn__otlp__log_record__init($0) }
        message.pointee.time_unix_nano = record.timeUnixNano
        message.pointee.observed_time_unix_nano = record.observedTimeUnixNano
        message.pointee.severity_number = Imn__Otlp__SeverityNumber(rawValue: numericCast(record.severityNumber))
        message.pointee.severity_text = string(record.severityText)
        if let body = record.body { message.pointee.body = value(body) }
        (message.pointee.n_attributes, message.pointee.attributes) = attributes(record.attributes)
        message.pointee.dropped_attributes_count = record.droppedAttributesCount
        message.pointee.flags = record.flags
        if let traceID = record.traceID { message.pointee.trace_id = id(traceID.high, traceID.low) }
        if let spanID = record.spanID { message.pointee.span_id = id(spanID.value) }
        message.pointee.event_name = string(record.eventName)
        return message
    }
}
