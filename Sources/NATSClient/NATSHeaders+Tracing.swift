import Tracing

/// Trace context in NATS headers (lowercase `traceparent`, `tracestate`), for
/// `InstrumentationSystem.instrument.inject` / `extract`.
public struct NATSHeadersCarrier: Injector, Extractor {
    public init() {}

    public func inject(_ value: String, forKey key: String, into headers: inout NATSHeaders) {
        headers[key] = value
    }

    public func extract(key: String, from headers: NATSHeaders) -> String? { headers[key] }
}

extension NATSHeaders {
    /// The current span's context as headers (empty when there is no span or no tracer).
    public static func tracing(_ context: ServiceContext? = .current) -> NATSHeaders {
        var headers = NATSHeaders()
        if let context { InstrumentationSystem.instrument.inject(context, into: &headers, using: NATSHeadersCarrier()) }
        return headers
    }

    /// The trace context these headers carry, on top of `base`.
    public func serviceContext(base: ServiceContext = .topLevel) -> ServiceContext {
        var context = base
        InstrumentationSystem.instrument.extract(self, into: &context, using: NATSHeadersCarrier())
        return context
    }
}
