import IMNCore

/// The specification's built-in samplers (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`).
/// A span not sampled is neither recorded nor exported; its trace context still travels, with the
/// sampled flag off, so the processes after it decide alike.
public indirect enum OTLPSampler: Sendable, Hashable {
    case alwaysOn
    case alwaysOff
    /// Samples this fraction of traces, judged by the trace id alone: every process keeps the same traces.
    case traceIDRatio(Double)
    /// A span with a parent follows the parent's sampled flag; a root span asks `root`.
    case parentBased(root: OTLPSampler)

    /// The specification's default: `parentbased_always_on`.
    public static let `default` = OTLPSampler.parentBased(root: .alwaysOn)

    public func shouldSample(traceID: TraceID, parent: OTLPSpanContext?) -> Bool {
        switch self {
        case .alwaysOn: return true
        case .alwaysOff: return false
        case .traceIDRatio(let ratio):
            // As the reference SDKs do: the trace id's lower 8 bytes, shifted to 63 bits, below ratio × 2^63.
            guard ratio < 1 else { return true }
            guard ratio > 0 else { return false }
            return traceID.low >> 1 < UInt64(ratio * 9_223_372_036_854_775_808.0)
        case .parentBased(let root):
            guard let parent else { return root.shouldSample(traceID: traceID, parent: nil) }
            return parent.traceFlags & 1 == 1
        }
    }

    /// From `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`; an unknown sampler or a bad
    /// ratio is a warning and the default (or a ratio of 1.0) is used.
    public static func fromEnvironment(_ environment: [String: String], warnings: inout [String]) -> OTLPSampler {
        guard let name = environment["OTEL_TRACES_SAMPLER"]?.trimmed.lowercased(), !name.isEmpty else { return .default }
        func ratio() -> Double {
            guard let text = environment["OTEL_TRACES_SAMPLER_ARG"]?.trimmed, !text.isEmpty else { return 1 }
            guard let value = Double(text), (0...1).contains(value) else {
                warnings.append("OTEL_TRACES_SAMPLER_ARG=\(text) is not a ratio between 0 and 1; using 1.0")
                return 1
            }
            return value
        }
        switch name {
        case "always_on": return .alwaysOn
        case "always_off": return .alwaysOff
        case "traceidratio": return .traceIDRatio(ratio())
        case "parentbased_always_on": return .parentBased(root: .alwaysOn)
        case "parentbased_always_off": return .parentBased(root: .alwaysOff)
        case "parentbased_traceidratio": return .parentBased(root: .traceIDRatio(ratio()))
        default:
            warnings.append(
                "OTEL_TRACES_SAMPLER=\(name) is not supported (always_on, always_off, traceidratio, parentbased_always_on, "
                    + "parentbased_always_off, parentbased_traceidratio); using parentbased_always_on")
            return .default
        }
    }
}
