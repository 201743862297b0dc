import Agent
import CoreMetrics
import HTTPTypes
import HummingbirdCore
import IMNCore
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// `/metrics` (and `/health`) of a process that has no HTTP server of its own (`imn dbos
/// --metrics-port`): a Prometheus registry fed through swift-metrics, next to the OTLP backend
/// when there is one, served as IMN's other processes serve theirs (build, process and OTLP
/// figures, a `# HELP` on every family).
public struct MetricsEndpoint: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// What the process records into: the registry, and `also` (the OTLP factory) when given.
    public let factory: any MetricsFactory
    let service: String
    let extra: @Sendable () -> String

    public init(service: String, also other: (any MetricsFactory)? = nil, extra: @escaping @Sendable () -> String = { "" }) {
        var prometheus = PrometheusMetricsFactory(registry: registry)
        prometheus.defaultDurationHistogramBuckets = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        self.factory = other.map { MultiplexMetricsHandler(factories: [prometheus, $0]) } ?? prometheus
        self.service = service
        self.extra = extra
    }

    public func exposition() -> [UInt8] { MetricsExposition.document(registry.emitToBuffer(), service: service, extra: extra()) }

    /// The HTTP service on `host`:`port`.
    public func httpService(host: String, port: Int, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> any Service {
        var logger = Logger(label: "imn.metrics.http")
        logger.logLevel = .warning
        let endpoint = self
        return try AgentHTTP.plainServer(
            configuration: ServerConfiguration(address: .hostname(host, port: port), serverName: service), logger: logger, onListening: onListening
        ) { head in
            switch head.path.map({ String($0.prefix { $0 != "?" }) }) ?? "/" {
            case "/metrics": (.ok, MetricsExposition.contentType, endpoint.exposition())
            case "/health": (.ok, "application/json", Array(#"{"status":"ok"}"#.utf8))
            default: (.notFound, "application/json", Array(#"{"error":"only /metrics and /health are served here"}"#.utf8))
            }
        }
    }
}
