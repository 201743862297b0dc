import FoundationEssentials
import Glibc
import IMNCore

/// Where and how to export, from the standard OTLP environment variables:
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL: `v1/traces` … is appended) and the per-signal
/// `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT` (used as they are), `…_HEADERS`
/// (`k1=v1,k2=v2`, percent-decoded), `…_TIMEOUT` (milliseconds), `…_COMPRESSION` (`gzip` | `none`).
public struct OTLPExporterConfiguration: Sendable, Hashable {
    public var endpoints: [OTLPSignal: String]
    public var headers: [OTLPSignal: [(String, String)]]
    /// Per attempt.
    public var timeout: [OTLPSignal: Duration]
    public var gzip: [OTLPSignal: Bool]
    /// All attempts of one export, retries and waits included.
    public var exportTimeout: Duration = .seconds(30)
    /// Backoff between retries without `Retry-After`: doubling from `initialBackoff` up to `maxBackoff`, ±20 % jitter.
    public var initialBackoff: Duration = .milliseconds(500)
    public var maxBackoff: Duration = .seconds(8)
    /// Largest response read (after decompression); more is a non-retryable error.
    public var maxResponseBytes = 4 * 1024 * 1024
    public var userAgent = "IMN-OTLP-Exporter/0.1"

    public static let defaultEndpoint = "http://localhost:4318"

    public init(endpoint: String = defaultEndpoint) {
        var endpoints: [OTLPSignal: String] = [:]
        for signal in OTLPSignal.allCases { endpoints[signal] = Self.join(endpoint, signal) }
        self.endpoints = endpoints
        self.headers = [:]
        self.timeout = Dictionary(uniqueKeysWithValues: OTLPSignal.allCases.map { ($0, Duration.seconds(10)) })
        self.gzip = Dictionary(uniqueKeysWithValues: OTLPSignal.allCases.map { ($0, false) })
    }

    /// The configuration the environment describes; `warnings` collects values that were ignored.
    public static func fromEnvironment(_ environment: [String: String], warnings: inout [String]) -> OTLPExporterConfiguration {
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmed, !text.isEmpty else { return nil }
            return text
        }
        var configuration = OTLPExporterConfiguration(endpoint: value("OTEL_EXPORTER_OTLP_ENDPOINT") ?? defaultEndpoint)
        let generalHeaders = value("OTEL_EXPORTER_OTLP_HEADERS").map { parseHeaders($0, &warnings) } ?? []
        let generalTimeout = value("OTEL_EXPORTER_OTLP_TIMEOUT")
        let generalCompression = value("OTEL_EXPORTER_OTLP_COMPRESSION")
        for signal in OTLPSignal.allCases {
            let prefix = "OTEL_EXPORTER_OTLP_\(signal.rawValue.uppercased())_"
            if let endpoint = value(prefix + "ENDPOINT") { configuration.endpoints[signal] = endpoint }
            configuration.headers[signal] = generalHeaders + (value(prefix + "HEADERS").map { parseHeaders($0, &warnings) } ?? [])
            if let text = value(prefix + "TIMEOUT") ?? generalTimeout {
                if let milliseconds = Int64(text), milliseconds >= 0 {
                    // 0 means no limit; an hour stands in for it.
                    configuration.timeout[signal] = milliseconds == 0 ? .seconds(3600) : .milliseconds(milliseconds)
                } else {
                    warnings.append("\(prefix)TIMEOUT or OTEL_EXPORTER_OTLP_TIMEOUT: \"\(text)\" is not a number of milliseconds; using 10000")
                }
            }
            if let text = (value(prefix + "COMPRESSION") ?? generalCompression)?.lowercased() {
                switch text {
                case "gzip": configuration.gzip[signal] = true
                case "none": configuration.gzip[signal] = false
                default: warnings.append("OTLP compression \"\(text)\" is not gzip or none; sending uncompressed")
                }
            }
        }
        return configuration
    }

    /// The base URL with `v1/<signal>` appended after exactly one `/`.
    static func join(_ base: String, _ signal: OTLPSignal) -> String {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        return base + signal.defaultPath
    }

    /// `k1=v1,k2=v2`, keys and values percent-decoded; a malformed entry is skipped with a warning.
    static func parseHeaders(_ text: String, _ warnings: inout [String]) -> [(String, String)] {
        text.split(separator: ",").compactMap { entry in
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmed }
            guard parts.count == 2, !parts[0].isEmpty, let key = parts[0].percentDecoded, let value = parts[1].percentDecoded
            else {
                warnings.append("OTLP header \"\(entry)\" is not key=value; ignored")
                return nil
            }
            return (key, value)
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.endpoints == rhs.endpoints && lhs.timeout == rhs.timeout && lhs.gzip == rhs.gzip
            && OTLPSignal.allCases.allSatisfy { signal in
                (lhs.headers[signal] ?? []).map { "\($0.0)=\($0.1)" } == (rhs.headers[signal] ?? []).map { "\($0.0)=\($0.1)" }
            }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(endpoints)
        hasher.combine(gzip)
    }
}
