/// An attribute or log-body value (OTLP `AnyValue`).
public indirect enum OTLPValue: Sendable, Hashable {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case bytes([UInt8])
    case array([OTLPValue])
    case map([OTLPAttribute])
}

/// A key and its value (OTLP `KeyValue`).
public struct OTLPAttribute: Sendable, Hashable {
    public var key: String
    public var value: OTLPValue

    public init(_ key: String, _ value: OTLPValue) {
        self.key = key
        self.value = value
    }
}

extension OTLPValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

/// What produced the telemetry (OTLP `Resource`): `service.name`, `service.version`,
/// `service.instance.id`, `host.name` and whatever `OTEL_RESOURCE_ATTRIBUTES` adds.
public struct OTLPResource: Sendable, Hashable {
    public var attributes: [OTLPAttribute]
    public var droppedAttributesCount: UInt32 = 0

    public init(attributes: [OTLPAttribute]) { self.attributes = attributes }
}

/// The library that recorded the telemetry (OTLP `InstrumentationScope`).
public struct OTLPScope: Sendable, Hashable {
    public var name: String
    public var version: String
    public var attributes: [OTLPAttribute] = []

    public init(name: String, version: String = "") {
        self.name = name
        self.version = version
    }
}
