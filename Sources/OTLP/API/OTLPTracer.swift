import FoundationEssentials
import IMNCore
import Synchronization
import Tracing

/// The W3C trace context of a span, kept in the `ServiceContext`.
public struct OTLPSpanContext: Sendable, Hashable {
    public var traceID: TraceID
    public var spanID: SpanID
    /// W3C trace flags (bit 0: sampled).
    public var traceFlags: UInt8
    public var traceState: String
    /// True when it came from another process (extracted from a carrier).
    public var isRemote: Bool

    public init(traceID: TraceID, spanID: SpanID, traceFlags: UInt8 = 1, traceState: String = "", isRemote: Bool = false) {
        self.traceID = traceID
        self.spanID = spanID
        self.traceFlags = traceFlags
        self.traceState = traceState
        self.isRemote = isRemote
    }

    /// `traceparent`: `00-<trace id>-<span id>-<flags>`.
    public var traceparent: String {
        "00-\(traceID)-\(spanID)-" + String(hex: [traceFlags])
    }

    /// Parses a version-00 `traceparent`; nil for anything malformed or an all-zero id.
    public init?(traceparent: String, traceState: String = "") {
        let parts = traceparent.trimmed.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
            parts[0] != "00" || parts.count == 4,
            let trace = [UInt8](hex: parts[1]), let span = [UInt8](hex: parts[2]), let flags = [UInt8](hex: parts[3]),
            let traceID = TraceID(bytes: trace), let spanID = SpanID(bytes: span), traceID.isValid, spanID.isValid
        else { return nil }
        self.init(traceID: traceID, spanID: spanID, traceFlags: flags[0], traceState: traceState, isRemote: true)
    }
}

private enum OTLPSpanContextKey: ServiceContextKey {
    typealias Value = OTLPSpanContext
    static let nameOverride: String? = "otlp-span-context"
}

extension ServiceContext {
    /// The current span's trace context, if any.
    public var otlpSpanContext: OTLPSpanContext? {
        get { self[OTLPSpanContextKey.self] }
        set { self[OTLPSpanContextKey.self] = newValue }
    }
}

/// A swift-distributed-tracing `Tracer` whose finished spans go to an ``OTLPBatchProcessor``.
/// Propagation is W3C Trace Context (`traceparent`, `tracestate`) and W3C Baggage, as
/// `propagators` allow; `sampler` decides which new spans are recorded; finished spans are cut to
/// `limits`. Without a processor (`OTEL_TRACES_EXPORTER=none`) nothing is recorded, but contexts
/// still travel with the sampler's decision.
public final class OTLPTracer: Tracer {
    public typealias Span = OTLPSpan
    let processor: OTLPBatchProcessor<SpanData>?
    let sampler: OTLPSampler
    let propagators: OTLPPropagators
    let limits: OTLPLimits

    public init(
        processor: OTLPBatchProcessor<SpanData>?, sampler: OTLPSampler = .default, propagators: OTLPPropagators = .default,
        limits: OTLPLimits = OTLPLimits()
    ) {
        self.processor = processor
        self.sampler = sampler
        self.propagators = propagators
        self.limits = limits
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> ServiceContext, ofKind kind: SpanKind, at instant: @autoclosure () -> Instant,
        function: String, file fileID: String, line: UInt
    ) -> OTLPSpan {
        var context = context()
        let parent = context.otlpSpanContext
        let traceID = parent?.traceID ?? .random()
        let sampled = sampler.shouldSample(traceID: traceID, parent: parent)
        let spanContext = OTLPSpanContext(
            traceID: traceID, spanID: .random(), traceFlags: (parent?.traceFlags ?? 0) & ~1 | (sampled ? 1 : 0),
            traceState: parent?.traceState ?? "")
        context.otlpSpanContext = spanContext
        return OTLPSpan(
            operationName: operationName, kind: kind, context: context, spanContext: spanContext, parent: parent,
            start: instant().nanosecondsSinceEpoch, processor: sampled ? processor : nil, limits: limits)
    }

    public func forceFlush() {}

    public func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        if propagators.contains(.baggage), let header = extractor.extract(key: "baggage", from: carrier), let baggage = OTLPBaggage(header: header) {
            context.otlpBaggage = baggage
        }
        guard propagators.contains(.traceContext), let header = extractor.extract(key: "traceparent", from: carrier),
            let spanContext = OTLPSpanContext(traceparent: header, traceState: extractor.extract(key: "tracestate", from: carrier) ?? "")
        else { return }
        context.otlpSpanContext = spanContext
    }

    public func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        if propagators.contains(.baggage), let baggage = context.otlpBaggage { injector.inject(baggage.header, forKey: "baggage", into: &carrier) }
        guard propagators.contains(.traceContext), let spanContext = context.otlpSpanContext else { return }
        injector.inject(spanContext.traceparent, forKey: "traceparent", into: &carrier)
        if !spanContext.traceState.isEmpty { injector.inject(spanContext.traceState, forKey: "tracestate", into: &carrier) }
    }
}

/// A span of ``OTLPTracer``: mutable until ended, then handed to the batch processor once.
public final class OTLPSpan: Tracing.Span {
    private struct State {
        var operationName: String
        var attributes = SpanAttributes()
        var status: SpanStatus?
        var events: [SpanEvent] = []
        var links: [SpanLink] = []
        var ended = false
    }

    public let context: ServiceContext
    let kind: SpanKind
    let spanContext: OTLPSpanContext
    let parent: OTLPSpanContext?
    let start: UInt64
    private let processor: OTLPBatchProcessor<SpanData>?
    private let limits: OTLPLimits
    private let state: Mutex<State>

    init(
        operationName: String, kind: SpanKind, context: ServiceContext, spanContext: OTLPSpanContext, parent: OTLPSpanContext?, start: UInt64,
        processor: OTLPBatchProcessor<SpanData>?, limits: OTLPLimits
    ) {
        self.limits = limits
        self.kind = kind
        self.context = context
        self.spanContext = spanContext
        self.parent = parent
        self.start = start
        self.processor = processor
        self.state = Mutex(State(operationName: operationName))
    }

    public var operationName: String {
        get { state.withLock { $0.operationName } }
        set { state.withLock { $0.operationName = newValue } }
    }

    public var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { $0.attributes = newValue } }
    }

    public var isRecording: Bool { processor != nil && !state.withLock { $0.ended } }

    public func setStatus(_ status: SpanStatus) {
        state.withLock { state in
            // OK is final; UNSET never overrides.
            if state.status?.code == .ok { return }
            state.status = status
        }
    }

    public func addEvent(_ event: SpanEvent) { state.withLock { $0.events.append(event) } }

    public func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        var attributes = attributes
        attributes["exception.type"] = "\(type(of: error))"
        attributes["exception.message"] = "\(error)"
        let event = SpanEvent(name: "exception", at: instant(), attributes: attributes)
        state.withLock { $0.events.append(event) }
    }

    public func addLink(_ link: SpanLink) { state.withLock { $0.links.append(link) } }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        guard let processor else { return }
        let end = instant().nanosecondsSinceEpoch
        guard
            let finished = state.withLock({ state -> State? in
                guard !state.ended else { return nil }
                state.ended = true
                return state
            })
        else { return }
        var data = SpanData(
            traceID: spanContext.traceID, spanID: spanContext.spanID, parentSpanID: parent?.spanID, name: finished.operationName,
            kind: Self.kind(kind), startTimeUnixNano: start, endTimeUnixNano: end)
        data.traceState = spanContext.traceState
        data.attributes = Self.attributes(finished.attributes)
        data.events = finished.events.map {
            SpanData.Event(timeUnixNano: $0.nanosecondsSinceEpoch, name: $0.name, attributes: Self.attributes($0.attributes))
        }
        data.links = finished.links.compactMap { link in
            guard let target = link.context.otlpSpanContext else { return nil }
            return SpanData.Link(
                traceID: target.traceID, spanID: target.spanID, traceState: target.traceState, attributes: Self.attributes(link.attributes),
                flags: 0x100 | UInt32(target.traceFlags) | (target.isRemote ? 0x200 : 0))
        }
        if let status = finished.status {
            data.statusCode = status.code == .ok ? .ok : .error
            data.statusMessage = status.message ?? ""
        }
        data.flags = 0x100 | UInt32(spanContext.traceFlags) | (parent?.isRemote == true ? 0x200 : 0)
        limits.apply(to: &data)
        processor.add(data)
    }

    static func kind(_ kind: SpanKind) -> SpanData.Kind {
        switch kind {
        case .server: .server
        case .client: .client
        case .producer: .producer
        case .consumer: .consumer
        default: .internal
        }
    }

    static func attributes(_ attributes: SpanAttributes) -> [OTLPAttribute] {
        var result: [OTLPAttribute] = []
        attributes.forEach { key, value in result.append(OTLPAttribute(key, Self.value(value))) }
        return result
    }

    static func value(_ attribute: SpanAttribute) -> OTLPValue {
        switch attribute {
        case .int32(let value): .int(Int64(value))
        case .int64(let value): .int(value)
        case .double(let value): .double(value)
        case .bool(let value): .bool(value)
        case .string(let value): .string(value)
        case .int32Array(let values): .array(values.map { .int(Int64($0)) })
        case .int64Array(let values): .array(values.map { .int($0) })
        case .doubleArray(let values): .array(values.map { .double($0) })
        case .boolArray(let values): .array(values.map { .bool($0) })
        case .stringArray(let values): .array(values.map { .string($0) })
        case .stringConvertible(let value): .string(value.description)
        case .stringConvertibleArray(let values): .array(values.map { .string($0.description) })
        default: .string("\(attribute)")
        }
    }
}

extension Array where Element == UInt8 {
    init?(hex: Substring) {
        guard hex.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.count / 2)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self = bytes
    }
}
