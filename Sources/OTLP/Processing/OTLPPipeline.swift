import Logging

/// Spans and log records of one process on their way out: a batch processor for each, encoding
/// with the process's resource and scope, and one exporter. ``run()`` until cancelled, then
/// flushes (the exporter stays usable: its owner shuts it down).
public final class OTLPPipeline: Sendable {
    public let resource: OTLPResource
    public let scope: OTLPScope
    public let exporter: OTLPHTTPExporter
    public let spans: OTLPBatchProcessor<SpanData>
    public let logs: OTLPBatchProcessor<LogData>

    public init(
        resource: OTLPResource, scope: OTLPScope, exporter: OTLPHTTPExporter,
        spanConfiguration: OTLPBatchProcessor<SpanData>.Configuration = .init(),
        logConfiguration: OTLPBatchProcessor<LogData>.Configuration = .init()
    ) {
        self.resource = resource
        self.scope = scope
        self.exporter = exporter
        self.spans = OTLPBatchProcessor(configuration: spanConfiguration) { batch in
            _ = await exporter.export(
                .traces, body: OTLPEncoder.traces(resource: resource, scope: scope, spans: batch), items: batch.count,
                timeout: spanConfiguration.exportTimeout)
        }
        self.logs = OTLPBatchProcessor(configuration: logConfiguration) { batch in
            _ = await exporter.export(
                .logs, body: OTLPEncoder.logs(resource: resource, scope: scope, logs: batch), items: batch.count,
                timeout: logConfiguration.exportTimeout)
        }
    }

    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.spans.run() }
            group.addTask { await self.logs.run() }
        }
    }
}
