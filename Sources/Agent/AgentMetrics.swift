import CoreMetrics
import Metrics
import Prometheus

/// The agent's metrics, declared once, with bounded labels (module names, outcomes, address
/// families; never a target address). Created with a metrics factory so that tests and `main`
/// choose the backend; `/metrics` serves the Prometheus registry behind it.
public struct AgentMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: any MetricsFactory

    /// `also`: a second backend that sees every metric too (the OTLP one).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), also other: (any MetricsFactory)? = nil) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        let seconds: [Duration] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30),
        ]
        factory.defaultDurationHistogramBuckets = seconds
        self.factory = other.map { MultiplexMetricsHandler(factories: [factory, $0]) } ?? factory
    }

    /// Runs by module and outcome (completed, error, failed, rejected).
    func run(module: String, outcome: String) {
        Counter(label: "imn_agent_module_runs_total", dimensions: [("module", module), ("outcome", outcome)], factory: factory).increment()
    }

    func runDuration(module: String, _ duration: Duration) {
        Timer(label: "imn_agent_module_run_duration_seconds", dimensions: [("module", module)], factory: factory).recordNanoseconds(
            duration.nanoseconds)
    }

    func heartbeatSent() { Counter(label: "imn_agent_heartbeats_sent_total", factory: factory).increment() }

    func outboxDepth(_ depth: Int) { Gauge(label: "imn_agent_outbox_depth", factory: factory).record(depth) }

    func natsConnected(_ connected: Bool) { Gauge(label: "imn_agent_nats_connected", factory: factory).record(connected ? 1 : 0) }

    func natsReconnects(_ total: Int) { Gauge(label: "imn_agent_nats_reconnects", factory: factory).record(total) }

    /// For modules: probe figures.
    public var probes: ProbeRecorder { ProbeRecorder(factory: factory) }

    /// The Prometheus text exposition (format 0.0.4).
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}

/// Probe measurements as metrics (OpenSearch indexes span attributes as text; numbers go here).
public struct ProbeRecorder: Sendable {
    let factory: (any MetricsFactory)?

    /// A recorder that drops everything (tests, tools).
    public static let discarding = ProbeRecorder(factory: nil)

    /// One round-trip time (ICMP echo or TCP connect).
    public func rtt(_ duration: Duration, module: String, family: String) {
        guard let factory else { return }
        Timer(label: "imn_agent_probe_rtt_seconds", dimensions: [("module", module), ("family", family)], factory: factory)
            .recordNanoseconds(duration.nanoseconds)
    }

    /// Loss of the last run, 0…1.
    public func loss(_ ratio: Double, module: String) {
        guard let factory else { return }
        Gauge(label: "imn_agent_probe_loss_ratio", dimensions: [("module", module)], factory: factory).record(ratio)
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}
