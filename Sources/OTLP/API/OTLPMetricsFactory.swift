import CoreMetrics
import FoundationEssentials
import Synchronization

/// A swift-metrics backend that keeps cumulative aggregates and turns them into OTLP metrics on
/// ``collect()``: counters become monotonic sums, meters and non-aggregating recorders gauges,
/// timers (in seconds) and aggregating recorders explicit-bucket histograms. Used next to the
/// Prometheus backend (a `MultiplexMetricsHandler`), so `/metrics` and OTLP show the same numbers.
/// Labels are turned into OTLP names as they are (`imn_agent_probe_rtt_seconds`).
public final class OTLPMetricsFactory: MetricsFactory, Sendable {
    /// Histogram bounds for timers, in seconds.
    public let timerBounds: [Double]
    /// Histogram bounds for aggregating recorders (the SDK's default).
    public let recorderBounds: [Double]
    private let instruments = Mutex<[Key: Instrument]>([:])
    private let startTime = OTLPMetricsFactory.nowNanoseconds()

    struct Key: Hashable {
        var label: String
        var dimensions: [String]
    }

    enum Instrument {
        case counter(OTLPCounter)
        case floatingCounter(OTLPFloatingCounter)
        case gauge(OTLPGauge)
        case histogram(OTLPHistogram, unit: String)

        /// Its current value as a one-point metric (nil for a gauge never set).
        func metric(_ name: String, attributes: [OTLPAttribute], start: UInt64, now: UInt64) -> MetricData? {
            func sum(_ value: NumberPoint.Value) -> MetricData {
                MetricData(
                    name: name,
                    data: .sum(
                        [NumberPoint(attributes: attributes, startTimeUnixNano: start, timeUnixNano: now, value: value)], temporality: .cumulative,
                        monotonic: true))
            }
            switch self {
            case .counter(let counter): return sum(.int(counter.value))
            case .floatingCounter(let counter): return sum(.double(counter.value))
            case .gauge(let gauge):
                guard let value = gauge.value else { return nil }
                return MetricData(name: name, data: .gauge([NumberPoint(attributes: attributes, timeUnixNano: now, value: .double(value))]))
            case .histogram(let histogram, let unit):
                return MetricData(
                    name: name, unit: unit,
                    data: .histogram([histogram.point(attributes: attributes, start: start, now: now)], temporality: .cumulative))
            }
        }
    }

    public init(
        timerBounds: [Double] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        recorderBounds: [Double] = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000]
    ) {
        self.timerBounds = timerBounds
        self.recorderBounds = recorderBounds
    }

    private func instrument(_ label: String, _ dimensions: [(String, String)], make: () -> Instrument) -> Instrument {
        let key = Key(label: label, dimensions: dimensions.flatMap { [$0.0, $0.1] })
        return instruments.withLock { instruments in
            if let existing = instruments[key] { return existing }
            let created = make()
            instruments[key] = created
            return created
        }
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        if case .counter(let counter) = instrument(label, dimensions, make: { .counter(OTLPCounter()) }) { return counter }
        return OTLPCounter()
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        if case .floatingCounter(let counter) = instrument(label, dimensions, make: { .floatingCounter(OTLPFloatingCounter()) }) { return counter }
        return OTLPFloatingCounter()
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        if case .gauge(let gauge) = instrument(label, dimensions, make: { .gauge(OTLPGauge()) }) { return gauge }
        return OTLPGauge()
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        if aggregate {
            let made = instrument(label, dimensions) { .histogram(OTLPHistogram(bounds: recorderBounds, scale: 1), unit: "") }
            if case .histogram(let histogram, _) = made { return histogram }
            return OTLPHistogram(bounds: recorderBounds, scale: 1)
        }
        if case .gauge(let gauge) = instrument(label, dimensions, make: { .gauge(OTLPGauge()) }) { return gauge }
        return OTLPGauge()
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let made = instrument(label, dimensions) { .histogram(OTLPHistogram(bounds: timerBounds, scale: 1e-9), unit: "s") }
        if case .histogram(let histogram, _) = made { return histogram }
        return OTLPHistogram(bounds: timerBounds, scale: 1e-9)
    }

    public func destroyCounter(_ handler: any CounterHandler) {}
    public func destroyMeter(_ handler: any MeterHandler) {}
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    public func destroyRecorder(_ handler: any RecorderHandler) {}
    public func destroyTimer(_ handler: any TimerHandler) {}

    /// Every instrument's current value, cumulative since this factory started.
    public func collect() -> [MetricData] {
        let now = Self.nowNanoseconds()
        let all = instruments.withLock { $0 }.sorted { ($0.key.label, $0.key.dimensions.joined()) < ($1.key.label, $1.key.dimensions.joined()) }
        var metrics: [MetricData] = []
        for (key, instrument) in all {
            let attributes = stride(from: 0, to: key.dimensions.count - 1, by: 2).map {
                OTLPAttribute(key.dimensions[$0], .string(key.dimensions[$0 + 1]))
            }
            guard let metric = instrument.metric(key.label, attributes: attributes, start: startTime, now: now) else { continue }
            // Sorted by label: the points of one metric are next to each other.
            if let last = metrics.last, let merged = last.adding(metric) {
                metrics[metrics.count - 1] = merged
            } else {
                metrics.append(metric)
            }
        }
        return metrics
    }

    static func nowNanoseconds() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1e9) }
}

final class OTLPCounter: CounterHandler, Sendable {
    private let total = Atomic<Int64>(0)
    func increment(by amount: Int64) { total.add(amount, ordering: .relaxed) }
    func reset() { total.store(0, ordering: .relaxed) }
    var value: Int64 { total.load(ordering: .relaxed) }
}

final class OTLPFloatingCounter: FloatingPointCounterHandler, Sendable {
    private let total = Mutex<Double>(0)
    func increment(by amount: Double) { total.withLock { $0 += amount } }
    func reset() { total.withLock { $0 = 0 } }
    var value: Double { total.withLock { $0 } }
}

final class OTLPGauge: MeterHandler, RecorderHandler, Sendable {
    private let current = Mutex<Double?>(nil)
    func set(_ value: Int64) { current.withLock { $0 = Double(value) } }
    func set(_ value: Double) { current.withLock { $0 = value } }
    func increment(by amount: Double) { current.withLock { $0 = ($0 ?? 0) + amount } }
    func decrement(by amount: Double) { current.withLock { $0 = ($0 ?? 0) - amount } }
    func record(_ value: Int64) { set(value) }
    func record(_ value: Double) { set(value) }
    var value: Double? { current.withLock { $0 } }
}

/// Cumulative explicit-bucket histogram; `scale` converts recorded values (nanoseconds for timers) to the unit.
final class OTLPHistogram: RecorderHandler, TimerHandler, Sendable {
    private struct State {
        var counts: [UInt64]
        var count: UInt64 = 0
        var sum: Double = 0
        var min = Double.infinity
        var max = -Double.infinity
        var negative = false
    }
    let bounds: [Double]
    let scale: Double
    private let state: Mutex<State>

    init(bounds: [Double], scale: Double) {
        self.bounds = bounds
        self.scale = scale
        self.state = Mutex(State(counts: Array(repeating: 0, count: bounds.count + 1)))
    }

    func record(_ value: Int64) { observe(Double(value) * scale) }
    func record(_ value: Double) { observe(value * scale) }
    func recordNanoseconds(_ duration: Int64) { observe(Double(duration) * scale) }

    private func observe(_ value: Double) {
        // Buckets are (previous bound, bound]: the first bound ≥ value.
        var low = 0
        var high = bounds.count
        while low < high {
            let middle = (low + high) / 2
            if bounds[middle] < value { low = middle + 1 } else { high = middle }
        }
        state.withLock { state in
            state.counts[low] += 1
            state.count += 1
            state.sum += value
            state.min = Swift.min(state.min, value)
            state.max = Swift.max(state.max, value)
            if value < 0 { state.negative = true }
        }
    }

    func point(attributes: [OTLPAttribute], start: UInt64, now: UInt64) -> HistogramPoint {
        let state = self.state.withLock { $0 }
        return HistogramPoint(
            attributes: attributes, startTimeUnixNano: start, timeUnixNano: now, count: state.count,
            sum: state.negative ? nil : state.sum,  // the sum is left out once a negative value was recorded
            bucketCounts: state.counts, explicitBounds: bounds, min: state.count > 0 ? state.min : nil, max: state.count > 0 ? state.max : nil)
    }
}
