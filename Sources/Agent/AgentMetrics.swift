import CoreMetrics
import IMNCore
import Metrics
import Prometheus
import Synchronization

/// The agent's metrics, declared once, with bounded labels: module names, outcomes, address
/// families, and probe targets capped at `ProbeTargets.limit` distinct values per agent. Created
/// with a metrics factory so that tests and `main` choose the backend; `/metrics` serves the
/// Prometheus registry behind it.
public struct AgentMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: any MetricsFactory
    let targets = ProbeTargets()
    private let reconnects = ReconnectsSeen()
    /// Text appended to `/metrics` at each scrape (the OTLP exporter's counts).
    let extra: @Sendable () -> String

    /// `also`: a second backend that sees every metric too (the OTLP one).
    public init(
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), also other: (any MetricsFactory)? = nil,
        extra: @escaping @Sendable () -> String = { "" }
    ) {
        self.registry = registry
        self.extra = extra
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

    /// The connection's reconnect total, kept as a counter (increased by what is new since the last call).
    func natsReconnects(_ total: Int) {
        let new = reconnects.total.withLock { seen in
            defer { seen = max(seen, total) }
            return total - seen
        }
        let counter = Counter(label: "imn_agent_nats_reconnects_total", factory: factory)
        if new > 0 { counter.increment(by: new) }
    }

    /// The host's CPU, memory and load (sampled with each heartbeat) and this process's memory.
    func system(_ sample: SystemStats.Sample) {
        if let cpu = sample.cpuPercent { Gauge(label: "imn_agent_cpu_ratio", factory: factory).record(cpu / 100) }
        Gauge(label: "imn_agent_memory_total_bytes", factory: factory).record(sample.memoryTotalBytes)
        Gauge(label: "imn_agent_memory_used_bytes", factory: factory).record(sample.memoryTotalBytes - sample.memoryAvailableBytes)
        for (period, value) in zip(["1m", "5m", "15m"], sample.load) {
            Gauge(label: "imn_agent_load_average", dimensions: [("period", period)], factory: factory).record(value)
        }
        if sample.residentBytes > 0 { Gauge(label: "imn_agent_resident_memory_bytes", factory: factory).record(sample.residentBytes) }
    }

    /// For modules: probe figures.
    public var probes: ProbeRecorder { ProbeRecorder(factory: factory, targets: targets) }

    /// The Prometheus text exposition (format 0.0.4), with build, process and OTLP figures.
    public func exposition() -> [UInt8] { MetricsExposition.document(registry.emitToBuffer(), service: "imn-agent", extra: extra()) }
}

/// The NATS reconnect total already counted.
final class ReconnectsSeen: Sendable {
    let total = Mutex(0)
}

/// Probe measurements as metrics (OpenSearch indexes span attributes as text; numbers go here).
public struct ProbeRecorder: Sendable {
    let factory: (any MetricsFactory)?
    var targets = ProbeTargets()

    /// A recorder that drops everything (tests, tools).
    public static let discarding = ProbeRecorder(factory: nil)

    /// One run of echo-style probes to `target` (the host as the user gave it): `rtts` has one
    /// entry per probe sent, nil when unanswered. Counted per target — packets sent and received,
    /// each answer in the RTT histogram — so rates and quantiles over any window survive the
    /// scrapes between; the last run's loss and average RTT as gauges; success when any answered.
    public func run(module: String, family: String, target: String, rtts: [Duration?], duration: Duration) {
        let answered = rtts.compactMap { $0 }
        probe(module: module, target: target, success: !answered.isEmpty, duration: duration)
        guard let factory else { return }
        let label = targets.label(target)
        let dimensions = [("module", module), ("target", label)]
        let histogram = Timer(
            label: "imn_agent_probe_rtt_seconds", dimensions: [("module", module), ("family", family), ("target", label)], factory: factory)
        for rtt in answered { histogram.recordNanoseconds(rtt.nanoseconds) }
        Counter(label: "imn_agent_probe_packets_sent_total", dimensions: dimensions, factory: factory).increment(by: rtts.count)
        Counter(label: "imn_agent_probe_packets_received_total", dimensions: dimensions, factory: factory).increment(by: answered.count)
        Gauge(label: "imn_agent_probe_loss_ratio", dimensions: dimensions, factory: factory).record(
            rtts.isEmpty ? 0 : Double(rtts.count - answered.count) / Double(rtts.count))
        if !answered.isEmpty {
            Gauge(label: "imn_agent_probe_last_rtt_seconds", dimensions: dimensions, factory: factory)
                .record((answered.reduce(.zero, +) / answered.count).seconds)
        }
    }
}

extension ProbeRecorder {
    /// A probe's outcome by module and (bounded) target: `imn_probe_success` (1 or 0, with
    /// blackbox_exporter's `probe_success` beside it for dashboards made for that), the run counted
    /// in `imn_agent_probe_runs_total{result}`, and `probe_duration_seconds`.
    public func probe(module: String, target: String, success: Bool, duration: Duration) {
        guard let factory else { return }
        let label = targets.label(target)
        let dimensions = [("module", module), ("target", label)]
        Gauge(label: "imn_probe_success", dimensions: dimensions, factory: factory).record(success ? 1 : 0)
        Gauge(label: "probe_success", dimensions: dimensions, factory: factory).record(success ? 1 : 0)
        Counter(
            label: "imn_agent_probe_runs_total", dimensions: dimensions + [("result", success ? "success" : "failure")], factory: factory
        ).increment()
        Gauge(label: "probe_duration_seconds", dimensions: dimensions, factory: factory).record(duration.seconds)
    }

    /// An `http` run: status, each phase (`probe_http_duration_seconds{phase}`) and the leaf
    /// certificate's expiry, as blackbox_exporter names them.
    func http(target: String, status: Int, phases: HTTPHop.Phases, duration: Duration, certificateExpiry: Double?) {
        probe(module: "http", target: target, success: (200..<400).contains(status), duration: duration)
        guard let factory else { return }
        let label = targets.label(target)
        Gauge(label: "probe_http_status_code", dimensions: [("target", label)], factory: factory).record(status)
        for (phase, length) in phases.lengths {
            Gauge(label: "probe_http_duration_seconds", dimensions: [("phase", phase), ("target", label)], factory: factory).record(
                max(0, length.seconds))
        }
        if let certificateExpiry {
            Gauge(label: "probe_ssl_earliest_cert_expiry", dimensions: [("target", label)], factory: factory).record(certificateExpiry)
        }
    }
}

extension ProbeRecorder {
    /// A `dns` run: success is NOERROR; the query time and record counts as blackbox_exporter
    /// names them.
    func dns(target: String, rcode: String, lookup: Duration, duration: Duration, counts: (answer: Int, authority: Int, additional: Int)) {
        probe(module: "dns", target: target, success: rcode == "NOERROR", duration: duration)
        guard let factory else { return }
        let dimensions = [("target", targets.label(target))]
        Gauge(label: "probe_dns_lookup_time_seconds", dimensions: dimensions, factory: factory).record(lookup.seconds)
        Gauge(label: "probe_dns_answer_rrs", dimensions: dimensions, factory: factory).record(counts.answer)
        Gauge(label: "probe_dns_authority_rrs", dimensions: dimensions, factory: factory).record(counts.authority)
        Gauge(label: "probe_dns_additional_rrs", dimensions: dimensions, factory: factory).record(counts.additional)
    }
}

extension ProbeRecorder {
    /// A `traceroute` or `mtr` run: success is reaching the target; `probe_traceroute_hops`
    /// is the path's length.
    func trace(module: String, target: String, reached: Bool, hops: Int, duration: Duration) {
        probe(module: module, target: target, success: reached, duration: duration)
        guard let factory else { return }
        Gauge(label: "probe_traceroute_hops", dimensions: [("module", module), ("target", targets.label(target))], factory: factory).record(hops)
    }
}

/// Keeps the `target` label bounded: the first `limit` distinct targets an agent probes keep their
/// name; later ones are counted under "other" (like OpenTelemetry's cardinality limit).
final class ProbeTargets: Sendable {
    static let limit = 200
    static let overflow = "other"
    private let seen = Mutex<Set<String>>([])

    func label(_ target: String) -> String {
        let target = target.lowercased()
        return seen.withLock { seen in
            if seen.contains(target) { return target }
            guard seen.count < Self.limit else { return Self.overflow }
            seen.insert(target)
            return target
        }
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
