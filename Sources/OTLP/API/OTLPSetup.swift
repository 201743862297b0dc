import FoundationEssentials
import IMNCore
import Logging
import Tracing

/// Everything a process needs to emit OTLP, configured from the standard environment variables:
/// `OTEL_SDK_DISABLED`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, the exporter's
/// `OTEL_EXPORTER_OTLP_*` and `OTEL_{TRACES,METRICS,LOGS}_EXPORTER` (``OTLPExporterConfiguration``),
/// `OTEL_TRACES_SAMPLER[_ARG]` (``OTLPSampler``), `OTEL_PROPAGATORS` (``OTLPPropagators``), the
/// attribute and span limits (``OTLPLimits``), `OTEL_BSP_*`, `OTEL_BLRP_*`,
/// `OTEL_METRIC_EXPORT_INTERVAL` and `OTEL_METRIC_EXPORT_TIMEOUT`.
/// With no collector listening, exports fail quietly and are counted; nothing waits for them.
public struct OTLPSetup: Sendable {
    public let enabled: Bool
    public let resource: OTLPResource
    public let exporter: OTLPHTTPExporter
    public let pipeline: OTLPPipeline
    public let tracer: OTLPTracer
    public let metrics: OTLPMetricsFactory
    public let reader: OTLPMetricReader
    /// Environment values that were ignored, to be logged once logging is set up.
    public let warnings: [String]
    let limits: OTLPLimits

    /// Throws when the environment asks for what IMN cannot do (another protocol than
    /// http/protobuf, an unreadable certificate): better not to start than to export nowhere.
    public static func fromEnvironment(
        serviceName: String, version: String, instanceID: String = UUID().uuidString.lowercased(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(OTLPConfigurationError) -> OTLPSetup {
        var warnings: [String] = []
        var errors: [String] = []
        let enabled = environment["OTEL_SDK_DISABLED"]?.lowercased() != "true"
        let resource = Self.resource(
            serviceName: serviceName, version: version, instanceID: instanceID, environment: environment, warnings: &warnings)
        let scope = OTLPScope(name: "imn", version: version)
        let configuration = OTLPExporterConfiguration.fromEnvironment(environment, warnings: &warnings, errors: &errors)
        if enabled, !errors.isEmpty {
            var seen = Set<String>()
            throw OTLPConfigurationError(errors: errors.filter { seen.insert($0).inserted })  // a general variable is checked once per signal
        }
        let exporter = OTLPHTTPExporter(configuration: configuration)
        let pipeline = OTLPPipeline(
            resource: resource, scope: scope, exporter: exporter,
            spanConfiguration: .fromEnvironment(environment, prefix: "OTEL_BSP_", warnings: &warnings),
            logConfiguration: .fromEnvironment(environment, prefix: "OTEL_BLRP_", warnings: &warnings))
        let metrics = OTLPMetricsFactory()
        func milliseconds(_ name: String, default value: Int64) -> Duration {
            guard let text = environment[name]?.trimmed, !text.isEmpty else { return .milliseconds(value) }
            guard let milliseconds = Int64(text), milliseconds > 0 else {
                warnings.append("\(name)=\(text) is not a positive number of milliseconds; using \(value)")
                return .milliseconds(value)
            }
            return .milliseconds(milliseconds)
        }
        let interval = milliseconds("OTEL_METRIC_EXPORT_INTERVAL", default: 60000)
        let timeout = milliseconds("OTEL_METRIC_EXPORT_TIMEOUT", default: 30000)
        let limits = OTLPLimits.fromEnvironment(environment, warnings: &warnings)
        let tracer = OTLPTracer(
            processor: configuration.destinations[.traces]?.isEmpty == false ? pipeline.spans : nil,
            sampler: .fromEnvironment(environment, warnings: &warnings), propagators: .fromEnvironment(environment, warnings: &warnings),
            limits: limits)
        var reader = OTLPMetricReader(factory: metrics, exporter: exporter, resource: resource, scope: scope, interval: interval)
        reader.exportTimeout = timeout
        return OTLPSetup(
            enabled: enabled, resource: resource, exporter: exporter, pipeline: pipeline, tracer: tracer, metrics: metrics, reader: reader,
            warnings: warnings, limits: limits)
    }

    func exports(_ signal: OTLPSignal) -> Bool { enabled && exporter.configuration.destinations[signal]?.isEmpty == false }

    /// `service.name` (OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES, else ours), `service.version`,
    /// `service.instance.id`, `host.name`, plus the rest of OTEL_RESOURCE_ATTRIBUTES.
    static func resource(serviceName: String, version: String, instanceID: String, environment: [String: String], warnings: inout [String])
        -> OTLPResource
    {
        var attributes: [String: String] = [
            "service.name": serviceName, "service.version": version, "service.instance.id": instanceID, "host.name": ProcessInfo.processInfo.hostName,
        ]
        if let text = environment["OTEL_RESOURCE_ATTRIBUTES"], !text.isEmpty {
            var parsed: [String: String] = [:]
            var valid = true
            for entry in text.split(separator: ",") {
                let parts = entry.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let key = parts[0].trimmed.percentDecoded,
                    let value = parts[1].trimmed.percentDecoded, !key.isEmpty
                else {
                    valid = false
                    break
                }
                parsed[key] = value
            }
            if valid {
                attributes.merge(parsed) { $1 }
            } else {
                warnings.append("OTEL_RESOURCE_ATTRIBUTES is not key=value,…; ignored as a whole")
            }
        }
        if let name = environment["OTEL_SERVICE_NAME"], !name.isEmpty { attributes["service.name"] = name }
        return OTLPResource(attributes: attributes.sorted { $0.key < $1.key }.map { OTLPAttribute($0.key, .string($0.value)) })
    }

    /// A log handler that exports records at `level` and above (nil when disabled).
    public func logHandler(label: String, level: Logger.Level) -> (any LogHandler)? {
        exports(.logs) ? OTLPLogHandler(label: label, processor: pipeline.logs, logLevel: level, limits: limits) : nil
    }

    /// Exports spans, logs and metrics until cancelled, then flushes them.
    public func run() async {
        guard enabled else { return }
        let exporter = self.exporter
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.pipeline.run() }
                if exports(.metrics) { group.addTask { await self.reader.run() } }
            }
        } onCancel: {
            // Stopping: the final flush makes one attempt per batch instead of retrying for up to the
            // export timeout against a collector that may not be there.
            exporter.beginShutdown()
        }
        await exporter.shutdown()
    }
}

/// OTEL_* settings a process must not start with; each message names its variable.
public struct OTLPConfigurationError: Error, CustomStringConvertible {
    public let errors: [String]
    public var description: String { errors.joined(separator: "\n") }
}

extension OTLPSetup {
    /// The exporter's and the batch queues' counts as Prometheus text, for `/metrics`: what was
    /// delivered, dropped or rejected is visible without a collector.
    public func prometheusText() -> String {
        guard enabled else { return "" }
        let exporter = exporter.statistics
        var text = ""
        for (name, value) in [
            ("imn_otlp_exported_items_total", exporter.exportedItems), ("imn_otlp_dropped_items_total", exporter.droppedItems),
            ("imn_otlp_rejected_items_total", exporter.rejectedItems), ("imn_otlp_export_requests_total", exporter.requests),
            ("imn_otlp_export_retries_total", exporter.retries),
        ] {
            text += "# TYPE \(name) counter\n\(name) \(value)\n"
        }
        text += "# TYPE imn_otlp_queue_dropped_total counter\n"
        text += "imn_otlp_queue_dropped_total{signal=\"traces\"} \(pipeline.spans.statistics.dropped)\n"
        text += "imn_otlp_queue_dropped_total{signal=\"logs\"} \(pipeline.logs.statistics.dropped)\n"
        return text
    }
}
