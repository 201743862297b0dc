/// One metric as exported (OTLP `Metric` with a gauge, a sum or an explicit-bucket histogram).
public struct MetricData: Sendable, Hashable {
    public enum Temporality: Int32, Sendable, Hashable { case unspecified = 0, delta = 1, cumulative = 2 }

    public enum Data: Sendable, Hashable {
        case gauge([NumberPoint])
        case sum([NumberPoint], temporality: Temporality, monotonic: Bool)
        case histogram([HistogramPoint], temporality: Temporality)
    }

    public var name: String
    public var description: String
    public var unit: String
    public var data: Data

    public init(name: String, description: String = "", unit: String = "", data: Data) {
        self.name = name
        self.description = description
        self.unit = unit
        self.data = data
    }

    /// This metric with `other`'s points added, when both are the same metric of the same kind.
    func adding(_ other: MetricData) -> MetricData? {
        guard other.name == name else { return nil }
        var merged = self
        switch (data, other.data) {
        case (.gauge(let points), .gauge(let more)): merged.data = .gauge(points + more)
        case (.sum(let points, let temporality, let monotonic), .sum(let more, let otherTemporality, let otherMonotonic))
        where temporality == otherTemporality && monotonic == otherMonotonic:
            merged.data = .sum(points + more, temporality: temporality, monotonic: monotonic)
        case (.histogram(let points, let temporality), .histogram(let more, let otherTemporality)) where temporality == otherTemporality:
            merged.data = .histogram(points + more, temporality: temporality)
        default: return nil
        }
        return merged
    }
}

/// A gauge or sum point (OTLP `NumberDataPoint`).
public struct NumberPoint: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        case double(Double)
        case int(Int64)
    }

    public var attributes: [OTLPAttribute]
    public var startTimeUnixNano: UInt64
    public var timeUnixNano: UInt64
    public var value: Value
    public var flags: UInt32 = 0

    public init(attributes: [OTLPAttribute] = [], startTimeUnixNano: UInt64 = 0, timeUnixNano: UInt64, value: Value) {
        self.attributes = attributes
        self.startTimeUnixNano = startTimeUnixNano
        self.timeUnixNano = timeUnixNano
        self.value = value
    }
}

/// An explicit-bucket histogram point (OTLP `HistogramDataPoint`): `bucketCounts` has one entry
/// more than `explicitBounds`, and counts are per bucket, not cumulative.
public struct HistogramPoint: Sendable, Hashable {
    public var attributes: [OTLPAttribute]
    public var startTimeUnixNano: UInt64
    public var timeUnixNano: UInt64
    public var count: UInt64
    public var sum: Double?
    public var bucketCounts: [UInt64]
    public var explicitBounds: [Double]
    public var min: Double?
    public var max: Double?
    public var flags: UInt32 = 0

    public init(
        attributes: [OTLPAttribute] = [], startTimeUnixNano: UInt64, timeUnixNano: UInt64, count: UInt64, sum: Double?, bucketCounts: [UInt64],
        explicitBounds: [Double], min: Double? = nil, max: Double? = nil
    ) {
        self.attributes = attributes
        self.startTimeUnixNano = startTimeUnixNano
        self.timeUnixNano = timeUnixNano
        self.count = count
        self.sum = sum
        self.bucketCounts = bucketCounts
        self.explicitBounds = explicitBounds
        self.min = min
        self.max = max
    }
}
