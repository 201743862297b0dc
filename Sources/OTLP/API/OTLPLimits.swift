import IMNCore

/// The specification's attribute and span limits, from `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`,
/// `OTEL_ATTRIBUTE_COUNT_LIMIT`, `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`,
/// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, `OTEL_SPAN_EVENT_COUNT_LIMIT`, `OTEL_SPAN_LINK_COUNT_LIMIT`,
/// `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`, `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`,
/// `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT` and `OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT`.
/// What a limit cuts is counted in the item's `dropped_*_count`; string values (and the strings
/// in arrays) are cut to the length limit, in characters.
public struct OTLPLimits: Sendable, Hashable {
    public var spanAttributeCount = 128
    public var spanAttributeValueLength: Int?
    public var spanEventCount = 128
    public var spanLinkCount = 128
    public var eventAttributeCount = 128
    public var linkAttributeCount = 128
    public var logAttributeCount = 128
    public var logAttributeValueLength: Int?

    public init() {}

    public static func fromEnvironment(_ environment: [String: String], warnings: inout [String]) -> OTLPLimits {
        func number(_ name: String) -> Int? {
            guard let text = environment[name]?.trimmed, !text.isEmpty else { return nil }
            guard let value = Int(text), value >= 0 else {
                warnings.append("\(name)=\(text) is not a number ≥ 0; ignored")
                return nil
            }
            return value
        }
        var limits = OTLPLimits()
        let count = number("OTEL_ATTRIBUTE_COUNT_LIMIT")
        let length = number("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")
        limits.spanAttributeCount = number("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT") ?? count ?? 128
        limits.spanAttributeValueLength = number("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT") ?? length
        limits.spanEventCount = number("OTEL_SPAN_EVENT_COUNT_LIMIT") ?? 128
        limits.spanLinkCount = number("OTEL_SPAN_LINK_COUNT_LIMIT") ?? 128
        limits.eventAttributeCount = number("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT") ?? count ?? 128
        limits.linkAttributeCount = number("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT") ?? count ?? 128
        limits.logAttributeCount = number("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT") ?? count ?? 128
        limits.logAttributeValueLength = number("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT") ?? length
        return limits
    }

    /// The first `count` attributes, values cut to `length`, and how many were dropped.
    static func limited(_ attributes: [OTLPAttribute], count: Int, length: Int?) -> ([OTLPAttribute], UInt32) {
        let kept = attributes.prefix(count).map { attribute in
            length.map { OTLPAttribute(attribute.key, attribute.value.truncated(to: $0)) } ?? attribute
        }
        return (kept, UInt32(attributes.count - kept.count))
    }

    /// `span` within the span limits.
    func apply(to span: inout SpanData) {
        var dropped: UInt32
        (span.attributes, dropped) = Self.limited(span.attributes, count: spanAttributeCount, length: spanAttributeValueLength)
        span.droppedAttributesCount += dropped
        (span.events, dropped) = limited(span.events, count: spanEventCount, attributes: eventAttributeCount, \.attributes, \.droppedAttributesCount)
        span.droppedEventsCount += dropped
        (span.links, dropped) = limited(span.links, count: spanLinkCount, attributes: linkAttributeCount, \.attributes, \.droppedAttributesCount)
        span.droppedLinksCount += dropped
    }

    /// The first `count` events or links, each with at most `attributes` attributes (the rest
    /// counted in its own dropped count), and how many items were dropped.
    func limited<Item>(
        _ items: [Item], count: Int, attributes limit: Int, _ attributes: WritableKeyPath<Item, [OTLPAttribute]>,
        _ droppedAttributes: WritableKeyPath<Item, UInt32>
    ) -> ([Item], UInt32) {
        let kept = items.prefix(count).map { item in
            var item = item
            let dropped: UInt32
            (item[keyPath: attributes], dropped) = Self.limited(item[keyPath: attributes], count: limit, length: spanAttributeValueLength)
            item[keyPath: droppedAttributes] += dropped
            return item
        }
        return (kept, UInt32(items.count - kept.count))
    }

    /// `record` within the log record limits.
    func apply(to record: inout LogData) {
        let dropped: UInt32
        (record.attributes, dropped) = Self.limited(record.attributes, count: logAttributeCount, length: logAttributeValueLength)
        record.droppedAttributesCount += dropped
    }
}

extension OTLPValue {
    /// Strings (alone or in arrays) cut to `length` characters; other values as they are.
    func truncated(to length: Int) -> OTLPValue {
        switch self {
        case .string(let text) where text.count > length: .string(String(text.prefix(length)))
        case .array(let values): .array(values.map { $0.truncated(to: length) })
        default: self
        }
    }
}
