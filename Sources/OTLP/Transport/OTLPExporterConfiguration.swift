import FoundationEssentials
import Glibc
import IMNCore

/// Where and how to export, from the standard OTLP environment variables:
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL: `v1/traces` … is appended) and the per-signal
/// `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT` (used as they are), `…_HEADERS`
/// (`k1=v1,k2=v2`, percent-decoded), `…_TIMEOUT` (milliseconds), `…_COMPRESSION` (`gzip` | `none`),
/// `…_PROTOCOL` (`http/protobuf` only: anything else is a start-up error), `…_CERTIFICATE` (PEM CA
/// bundle trusted for https), `…_CLIENT_CERTIFICATE` and `…_CLIENT_KEY` (PEM, for mutual TLS; both
/// or neither, each readable, or a start-up error); and which exporters each signal uses,
/// `OTEL_{TRACES,METRICS,LOGS}_EXPORTER` (`otlp`, `console`, `none`, comma-separated).
public struct OTLPExporterConfiguration: Sendable, Hashable {
    /// Where a signal goes: the collector over OTLP/HTTP, standard output as JSON lines, or both.
    public enum Destination: String, Sendable, Hashable, CaseIterable {
        case otlp, console
    }

    /// PEM files for https: a CA bundle to trust instead of the system's, and a client certificate and key.
    public struct TLSFiles: Sendable, Hashable {
        public var certificate: String?
        public var clientCertificate: String?
        public var clientKey: String?

        public init(certificate: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil) {
            self.certificate = certificate
            self.clientCertificate = clientCertificate
            self.clientKey = clientKey
        }
    }

    public var endpoints: [OTLPSignal: String]
    /// Empty: the signal is not exported (`none`).
    public var destinations: [OTLPSignal: Set<Destination>]
    public var tls: [OTLPSignal: TLSFiles] = [:]
    /// Where the `console` exporter writes: standard output.
    public var consoleFileDescriptor: Int32 = 1
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
        self.destinations = Dictionary(uniqueKeysWithValues: OTLPSignal.allCases.map { ($0, [.otlp]) })
        self.headers = [:]
        self.timeout = Dictionary(uniqueKeysWithValues: OTLPSignal.allCases.map { ($0, Duration.seconds(10)) })
        self.gzip = Dictionary(uniqueKeysWithValues: OTLPSignal.allCases.map { ($0, false) })
    }

    /// The configuration the environment describes; `warnings` collects values that were ignored,
    /// `errors` settings the process must not start with (an unsupported protocol, a missing file).
    public static func fromEnvironment(_ environment: [String: String], warnings: inout [String], errors: inout [String])
        -> OTLPExporterConfiguration
    {
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
            configuration.destinations[signal] = destinations(signal, value("OTEL_\(signal.rawValue.uppercased())_EXPORTER"), &warnings)
            guard configuration.destinations[signal]?.contains(.otlp) == true else { continue }
            if let endpoint = value(prefix + "ENDPOINT") { configuration.endpoints[signal] = endpoint }
            let protocolName = value(prefix + "PROTOCOL") ?? value("OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf"
            if protocolName != "http/protobuf" {
                let name = value(prefix + "PROTOCOL") != nil ? prefix + "PROTOCOL" : "OTEL_EXPORTER_OTLP_PROTOCOL"
                errors.append(
                    "\(name)=\(protocolName) is not supported: IMN exports OTLP as http/protobuf only "
                        + "(an OpenTelemetry Collector receives it on port 4318); unset it or set http/protobuf")
            }
            var files = TLSFiles()
            for (name, path) in [("CERTIFICATE", \TLSFiles.certificate), ("CLIENT_CERTIFICATE", \.clientCertificate), ("CLIENT_KEY", \.clientKey)] {
                let variable = value(prefix + name) != nil ? prefix + name : "OTEL_EXPORTER_OTLP_" + name
                guard let file = value(variable) else { continue }
                if access(file, R_OK) != 0 { errors.append("\(variable)=\(file): cannot read the file") }
                files[keyPath: path] = file
            }
            if (files.clientCertificate == nil) != (files.clientKey == nil) {
                errors.append("OTLP \(signal.rawValue): a client certificate and a client key go together (…_CLIENT_CERTIFICATE, …_CLIENT_KEY)")
            }
            if files != TLSFiles() { configuration.tls[signal] = files }
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

    /// `OTEL_<SIGNAL>_EXPORTER`: `otlp` (the default), `console`, `none`, or a comma-separated list.
    static func destinations(_ signal: OTLPSignal, _ text: String?, _ warnings: inout [String]) -> Set<Destination> {
        guard let text else { return [.otlp] }
        var destinations = Set<Destination>()
        for name in text.lowercased().split(separator: ",").map(\.trimmed) where name != "none" {
            if let destination = Destination(rawValue: name == "logging" ? "console" : name) {
                destinations.insert(destination)
            } else {
                warnings.append("OTEL_\(signal.rawValue.uppercased())_EXPORTER: \"\(name)\" is not otlp, console or none; ignored")
            }
        }
        return destinations
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
        lhs.endpoints == rhs.endpoints && lhs.timeout == rhs.timeout && lhs.gzip == rhs.gzip && lhs.destinations == rhs.destinations
            && lhs.tls == rhs.tls
            && OTLPSignal.allCases.allSatisfy { signal in
                (lhs.headers[signal] ?? []).map { "\($0.0)=\($0.1)" } == (rhs.headers[signal] ?? []).map { "\($0.0)=\($0.1)" }
            }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(endpoints)
        hasher.combine(gzip)
    }
}
