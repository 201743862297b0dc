import CoreMetrics
import Dispatch
import Hummingbird
import IMNCore
import Metrics
import Prometheus

/// The server's Prometheus metrics (`GET /metrics`), with bounded labels: route templates
/// (`/agent/{agent_id}/{module}`, never a concrete id), methods and status codes.
struct ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let factory: any MetricsFactory
    /// Recorded for every heartbeat (thousands a second): made once.
    private let heartbeatLagTimer: Timer
    let extra: @Sendable () -> String

    /// `also`: a second backend that sees every metric too (the OTLP one); `extra`: text appended at each scrape.
    init(
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), also other: (any MetricsFactory)? = nil,
        extra: @escaping @Sendable () -> String = { "" }
    ) {
        self.registry = registry
        self.extra = extra
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5),
            .seconds(10), .seconds(30), .seconds(60),
        ]
        self.factory = other.map { MultiplexMetricsHandler(factories: [factory, $0]) } ?? factory
        heartbeatLagTimer = Timer(label: "imn_server_heartbeat_lag_seconds", factory: self.factory)
    }

    func request(route: String, method: String, status: Int, nanoseconds: UInt64) {
        Counter(
            label: "imn_server_http_requests_total", dimensions: [("route", route), ("method", method), ("status", String(status))],
            factory: factory
        ).increment()
        Timer(label: "imn_server_http_request_duration_seconds", dimensions: [("route", route), ("method", method)], factory: factory)
            .recordNanoseconds(Int64(clamping: nanoseconds))
    }

    /// From the agent's transition to its being stored in DBOS.
    func ingested(state: String, lagMilliseconds: Int64) {
        Counter(label: "imn_server_ingested_total", dimensions: [("state", state)], factory: factory).increment()
        Timer(label: "imn_server_ingestion_lag_seconds", factory: factory).recordMilliseconds(max(0, lagMilliseconds))
    }

    func ingestionFailed() { Counter(label: "imn_server_ingestion_failures_total", factory: factory).increment() }
    /// Requests failed by their deadline (no result within --stuck-after).
    func requestExpired() { Counter(label: "imn_server_requests_expired_total", factory: factory).increment() }

    func scheduleRun(outcome: String) {
        Counter(label: "imn_server_schedule_runs_total", dimensions: [("outcome", outcome)], factory: factory).increment()
    }

    func agents(total: Int, alive: Int) {
        Gauge(label: "imn_server_agents", dimensions: [("alive", "true")], factory: factory).record(alive)
        Gauge(label: "imn_server_agents", dimensions: [("alive", "false")], factory: factory).record(total - alive)
    }

    /// From an agent sending a heartbeat to the registry holding it (wall clocks).
    func heartbeatLag(milliseconds: Int64) {
        heartbeatLagTimer.recordMilliseconds(max(0, milliseconds))
    }

    /// Clients of the live stream on this replica.
    func liveClients(_ count: Int) { Gauge(label: "imn_server_live_clients", factory: factory).record(count) }
    /// Events dropped from slow live clients' queues.
    func liveDropped(_ count: Int) { Counter(label: "imn_server_live_dropped_total", factory: factory).increment(by: count) }

    func exposition() -> [UInt8] { MetricsExposition.document(registry.emitToBuffer(), service: "imn-server", extra: extra()) }
}

/// Counts and times every request by its route template.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let response = try await next(request, context)
            metrics.request(
                route: Self.template(context.endpointPath), method: request.method.rawValue, status: response.status.code,
                nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.request(
                route: Self.template(context.endpointPath), method: request.method.rawValue, status: status,
                nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
            throw error
        }
    }

    /// `/agent/:agent_id/:module` → `/agent/{agent_id}/{module}`; unmatched requests share one label.
    static func template(_ path: String?) -> String {
        guard let path else { return "unmatched" }
        return path.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
        }.joined(separator: "/")
    }
}
