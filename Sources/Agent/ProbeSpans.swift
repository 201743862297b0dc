import Glibc
import Tracing

/// A probe's phases as child spans of the run's span (the current trace context): one span for
/// the probe and one per phase inside it, with the times the probe measured, so a trace shows
/// where the time went (a slow first byte, a slow TLS handshake, a slow hop).
enum ProbeSpans {
    /// `startedAt` is wall-clock nanoseconds since the epoch; each phase is a (name, length),
    /// in order, laid end to end from `startedAt`.
    static func record(_ name: String, startedAt: UInt64, phases: [(String, Duration)], attributes: [String: String] = [:]) {
        var offset = Duration.zero
        var children: [(String, Duration, Duration)] = []
        for (phase, length) in phases {
            children.append((phase, offset, length))
            offset += length
        }
        record(name, startedAt: startedAt, length: offset, children: children, attributes: attributes)
    }

    /// Children as (name, start offset, length) from `startedAt`; empty ones are left out.
    static func record(
        _ name: String, startedAt: UInt64, length: Duration, children: [(String, Duration, Duration)], attributes: [String: String] = [:]
    ) {
        let probe = startSpan(name, at: instant(startedAt), context: .current ?? .topLevel, ofKind: .client)
        for (key, value) in attributes { probe.attributes[key] = value }
        for (child, offset, childLength) in children where childLength > .zero {
            let span = startSpan(child, at: instant(startedAt, plus: offset), context: probe.context, ofKind: .internal)
            span.end(at: instant(startedAt, plus: offset + childLength))
        }
        probe.end(at: instant(startedAt, plus: length))
    }

    /// Wall-clock nanoseconds since the epoch, for `startedAt`.
    static func now() -> UInt64 {
        var realtime = timespec()
        clock_gettime(CLOCK_REALTIME, &realtime)
        return UInt64(realtime.tv_sec) * 1_000_000_000 + UInt64(realtime.tv_nsec)
    }

    static func instant(_ start: UInt64, plus offset: Duration = .zero) -> DefaultTracerClock.Timestamp {
        DefaultTracerClock.Timestamp(nanosecondsSinceEpoch: start &+ UInt64(max(0, offset.nanoseconds)))
    }
}
