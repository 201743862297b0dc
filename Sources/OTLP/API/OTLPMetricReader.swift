/// The periodic exporting metric reader: every `interval` it collects the factory's metrics
/// (cumulative) and exports them, never two exports at once; a last export when cancelled.
public struct OTLPMetricReader: Sendable {
    public let factory: OTLPMetricsFactory
    public let exporter: OTLPHTTPExporter
    public let resource: OTLPResource
    public let scope: OTLPScope
    public var interval: Duration
    /// All attempts of one export (`OTEL_METRIC_EXPORT_TIMEOUT`).
    public var exportTimeout: Duration = .seconds(30)

    public init(factory: OTLPMetricsFactory, exporter: OTLPHTTPExporter, resource: OTLPResource, scope: OTLPScope, interval: Duration = .seconds(60))
    {
        self.factory = factory
        self.exporter = exporter
        self.resource = resource
        self.scope = scope
        self.interval = interval
    }

    public func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { break }
            await exportOnce()
        }
        // A final export on shutdown, not cancelled with the caller.
        await Task { await exportOnce() }.value
    }

    public func exportOnce() async {
        let metrics = factory.collect()
        guard !metrics.isEmpty else { return }  // no empty envelopes
        let points = metrics.reduce(0) { total, metric in
            switch metric.data {
            case .gauge(let points), .sum(let points, _, _): total + points.count
            case .histogram(let points, _): total + points.count
            }
        }
        _ = await exporter.export(
            .metrics, body: OTLPEncoder.metrics(resource: resource, scope: scope, metrics: metrics), items: points, timeout: exportTimeout)
    }
}
