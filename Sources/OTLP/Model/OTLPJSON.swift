import IMNCore

/// Decoded telemetry as JSON (for `imn otlp-sink --format json` and tests): ids in hex, times as
/// nanoseconds, attributes as an object.
extension OTLPValue {
    public var json: JSONValue {
        switch self {
        case .string(let value): .string(value)
        case .bool(let value): .bool(value)
        case .int(let value): .number(Double(value))
        case .double(let value): .number(value)
        case .bytes(let value): .string(String(hex: value))
        case .array(let values): .array(values.map(\.json))
        case .map(let entries): .object(Self.object(entries))
        }
    }

    static func object(_ attributes: [OTLPAttribute]) -> [String: JSONValue] {
        var object: [String: JSONValue] = [:]
        for attribute in attributes { object[attribute.key] = attribute.value.json }
        return object
    }

    /// A short text form for one-line output.
    public var text: String {
        switch self {
        case .string(let value): value
        case .bool(let value): String(value)
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .bytes(let value): "0x" + String(hex: value)
        case .array(let values): "[" + values.map(\.text).joined(separator: ",") + "]"
        case .map(let entries): "{" + entries.map { "\($0.key)=\($0.value.text)" }.joined(separator: ",") + "}"
        }
    }
}

extension SpanData {
    public var json: JSONValue {
        [
            "trace_id": .string(traceID.description), "span_id": .string(spanID.description),
            "parent_span_id": parentSpanID.map { .string($0.description) } ?? .null, "name": .string(name),
            "kind": .string("\(kind)"), "start_time_unix_nano": .number(Double(startTimeUnixNano)),
            "end_time_unix_nano": .number(Double(endTimeUnixNano)), "duration_ms": .number(Double(endTimeUnixNano &- startTimeUnixNano) / 1e6),
            "attributes": .object(OTLPValue.object(attributes)), "status": .string("\(statusCode)"),
            "status_message": statusMessage.isEmpty ? .null : .string(statusMessage),
            "events": .array(events.map { ["name": .string($0.name), "attributes": .object(OTLPValue.object($0.attributes))] }),
            "links": .array(links.map { ["trace_id": .string($0.traceID.description), "span_id": .string($0.spanID.description)] }),
        ]
    }
}

extension MetricData {
    public var json: JSONValue {
        func number(_ point: NumberPoint) -> JSONValue {
            let value: Double =
                switch point.value {
                case .double(let value): value
                case .int(let value): Double(value)
                }
            return [
                "attributes": .object(OTLPValue.object(point.attributes)), "value": .number(value),
                "time_unix_nano": .number(Double(point.timeUnixNano)),
            ]
        }
        var object: [String: JSONValue] = ["name": .string(name), "unit": .string(unit), "description": .string(description)]
        switch data {
        case .gauge(let points):
            object["type"] = "gauge"
            object["points"] = .array(points.map(number))
        case .sum(let points, let temporality, let monotonic):
            object["type"] = "sum"
            object["monotonic"] = .bool(monotonic)
            object["temporality"] = .string("\(temporality)")
            object["points"] = .array(points.map(number))
        case .histogram(let points, let temporality):
            object["type"] = "histogram"
            object["temporality"] = .string("\(temporality)")
            object["points"] = .array(
                points.map { point in
                    [
                        "attributes": .object(OTLPValue.object(point.attributes)), "count": .number(Double(point.count)),
                        "sum": point.sum.map(JSONValue.number) ?? .null, "min": point.min.map(JSONValue.number) ?? .null,
                        "max": point.max.map(JSONValue.number) ?? .null, "bucket_counts": .array(point.bucketCounts.map { .number(Double($0)) }),
                        "explicit_bounds": .array(point.explicitBounds.map(JSONValue.number)),
                    ]
                })
        }
        return .object(object)
    }
}

extension LogData {
    public var json: JSONValue {
        [
            "time_unix_nano": .number(Double(timeUnixNano)), "severity_number": .number(Double(severityNumber)),
            "severity_text": .string(severityText), "body": body?.json ?? .null, "attributes": .object(OTLPValue.object(attributes)),
            "trace_id": traceID.map { .string($0.description) } ?? .null, "span_id": spanID.map { .string($0.description) } ?? .null,
        ]
    }
}

extension OTLPResource {
    public var json: JSONValue { .object(OTLPValue.object(attributes)) }
}
