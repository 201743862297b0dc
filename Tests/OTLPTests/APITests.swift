import CoreMetrics
import IMNTestSupport
import Logging
import Synchronization
import Testing
import Tracing

@testable import OTLP

/// The tracer, metrics backend, log handler and environment set-up, observed through what they
/// hand to their processors.
struct APITests {
    /// A processor whose exports land in memory.
    final class Collected<Item: Sendable>: Sendable {
        let items = Mutex<[Item]>([])
        func withLock<T>(_ body: (inout [Item]) -> T) -> T { items.withLock { body(&$0) } }
    }

    static func collecting<Item: Sendable>(_ type: Item.Type) -> (OTLPBatchProcessor<Item>, Collected<Item>) {
        let collected = Collected<Item>()
        var configuration = OTLPBatchProcessor<Item>.Configuration()
        configuration.maxExportBatchSize = 1
        return (OTLPBatchProcessor(configuration: configuration) { batch in collected.withLock { $0 += batch } }, collected)
    }

    struct Headers: Extractor, Injector {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    @Test func childSpansShareTheTraceAndContextCrossesACarrier() async throws {
        let (processor, spans) = Self.collecting(SpanData.self)
        let tracer = OTLPTracer(processor: processor)
        let running = Task { await processor.run() }
        var carrier: [String: String] = [:]
        tracer.withSpan("POST /agent/{agent_id}/{module}", ofKind: .server) { server in
            server.attributes["http.request.method"] = "POST"
            server.attributes["http.response.status_code"] = 202
            tracer.withSpan("imn.cmd publish", ofKind: .producer) { producer in
                tracer.inject(producer.context, into: &carrier, using: Headers())
            }
            server.setStatus(SpanStatus(code: .ok))
        }
        // The other side of the carrier: a consumer span in "another process".
        var remote = ServiceContext.topLevel
        tracer.extract(carrier, into: &remote, using: Headers())
        let consumer = tracer.startSpan("imn.cmd process", context: remote, ofKind: .consumer)
        consumer.recordError(CancellationError())
        consumer.end()
        #expect(await eventually { spans.withLock { $0.count } == 3 })
        running.cancel()
        await running.value
        let all = spans.withLock { $0 }
        let server = try #require(all.first { $0.name.hasPrefix("POST") })
        let producer = try #require(all.first { $0.kind == .producer })
        let received = try #require(all.first { $0.kind == .consumer })
        #expect(server.parentSpanID == nil)
        #expect(producer.traceID == server.traceID && producer.parentSpanID == server.spanID)
        #expect(received.traceID == server.traceID && received.parentSpanID == producer.spanID)
        #expect(carrier["traceparent"] == "00-\(server.traceID)-\(producer.spanID)-01")
        #expect(received.flags == 0x301, "sampled, parent known to be remote")
        #expect(producer.flags == 0x101, "sampled, parent known to be local")
        #expect(server.statusCode == .ok)
        #expect(server.attributes.contains(OTLPAttribute("http.response.status_code", .int(202))))
        #expect(received.events.first?.name == "exception")
        #expect(received.endTimeUnixNano >= received.startTimeUnixNano)
    }

    @Test func malformedOrUnsampledParentsAreHandled() async throws {
        #expect(OTLPSpanContext(traceparent: "00-00000000000000000000000000000000-0102030405060708-01") == nil, "all-zero trace id")
        #expect(OTLPSpanContext(traceparent: "00-0102-0102030405060708-01") == nil)
        #expect(OTLPSpanContext(traceparent: "ff-0102030405060708090a0b0c0d0e0f10-0102030405060708-01") == nil)
        #expect(OTLPSpanContext(traceparent: "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-01")?.traceFlags == 1)
        let (processor, spans) = Self.collecting(SpanData.self)
        let tracer = OTLPTracer(processor: processor)
        var context = ServiceContext.topLevel
        tracer.extract(["traceparent": "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-00"], into: &context, using: Headers())
        let span = tracer.startSpan("not sampled", context: context)
        #expect(!span.isRecording)
        span.end()
        #expect(processor.statistics.queued == 0)
        #expect(spans.withLock { $0.isEmpty })
    }

    @Test func metricsBackendAggregatesCumulatively() {
        let factory = OTLPMetricsFactory()
        Counter(label: "imn_runs_total", dimensions: [("module", "echo")], factory: factory).increment(by: 3)
        Counter(label: "imn_runs_total", dimensions: [("module", "echo")], factory: factory).increment()
        Counter(label: "imn_runs_total", dimensions: [("module", "ping")], factory: factory).increment()
        Gauge(label: "imn_outbox_depth", factory: factory).record(7)
        let timer = Timer(label: "imn_rtt_seconds", factory: factory)
        timer.recordMilliseconds(1)
        timer.recordMilliseconds(3)
        timer.recordNanoseconds(50_000)
        let metrics = Dictionary(uniqueKeysWithValues: factory.collect().map { ($0.name, $0) })
        guard case .sum(let points, let temporality, let monotonic) = metrics["imn_runs_total"]?.data else {
            Issue.record("a counter is a sum")
            return
        }
        #expect(temporality == .cumulative && monotonic)
        #expect(points.map(\.value) == [.int(4), .int(1)])
        #expect(points.first?.attributes == [OTLPAttribute("module", "echo")])
        #expect(points.first?.startTimeUnixNano ?? 0 > 0)
        guard case .gauge(let gauge) = metrics["imn_outbox_depth"]?.data else {
            Issue.record("a gauge")
            return
        }
        #expect(gauge.first?.value == .double(7))
        guard case .histogram(let histograms, _) = metrics["imn_rtt_seconds"]?.data, let histogram = histograms.first else {
            Issue.record("a timer is a histogram")
            return
        }
        #expect(metrics["imn_rtt_seconds"]?.unit == "s")
        #expect(histogram.count == 3)
        #expect(abs((histogram.sum ?? 0) - 0.00405) < 1e-12)
        #expect(histogram.min == 0.00005 && histogram.max == 0.003)
        #expect(histogram.bucketCounts.count == histogram.explicitBounds.count + 1)
        // 50 µs falls in (0, 0.00005]; 1 ms in (0.0005, 0.001]; 3 ms in (0.0025, 0.005].
        #expect(histogram.bucketCounts[0] == 1)
        #expect(histogram.bucketCounts[histogram.explicitBounds.firstIndex(of: 0.001) ?? 0] == 1)
        #expect(histogram.bucketCounts[histogram.explicitBounds.firstIndex(of: 0.005) ?? 0] == 1)
    }

    @Test func logRecordsCarryTheCurrentSpan() async throws {
        let (spanProcessor, _) = Self.collecting(SpanData.self)
        let (logProcessor, logs) = Self.collecting(LogData.self)
        let tracer = OTLPTracer(processor: spanProcessor)
        let running = Task { await logProcessor.run() }
        let logger = Logger(label: "test") { OTLPLogHandler(label: $0, processor: logProcessor) }
        var traceID: TraceID?
        tracer.withSpan("work") { span in
            traceID = span.context.otlpSpanContext?.traceID
            logger.warning("inside", metadata: ["request.id": "r-1"])
        }
        logger.info("outside")
        logger.debug("below the level")
        #expect(await eventually { logs.withLock { $0.count } == 2 })
        running.cancel()
        await running.value
        let records = logs.withLock { $0 }
        #expect(records[0].traceID == traceID && records[0].spanID != nil)
        #expect(records[0].severityNumber == 13 && records[0].severityText == "WARNING")
        #expect(records[0].body == "inside")
        #expect(records[0].attributes.contains(OTLPAttribute("request.id", "r-1")))
        #expect(records[1].traceID == nil)
    }

    @Test func resourceFromTheEnvironment() throws {
        let setup = try OTLPSetup.fromEnvironment(
            serviceName: "imn-agent", version: "1.2.3", instanceID: "agent_1",
            environment: ["OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=lab,team=net%2Cops", "OTEL_METRIC_EXPORT_INTERVAL": "500"])
        let attributes = Dictionary(uniqueKeysWithValues: setup.resource.attributes.map { ($0.key, $0.value) })
        #expect(attributes["service.name"] == "imn-agent")
        #expect(attributes["service.version"] == "1.2.3")
        #expect(attributes["service.instance.id"] == "agent_1")
        #expect(attributes["host.name"] != nil)
        #expect(attributes["team"] == "net,ops")
        #expect(setup.reader.interval == .milliseconds(500))
        #expect(setup.enabled)
        let renamed = try OTLPSetup.fromEnvironment(
            serviceName: "imn-agent", version: "1",
            environment: ["OTEL_SERVICE_NAME": "probe-7", "OTEL_RESOURCE_ATTRIBUTES": "broken", "OTEL_SDK_DISABLED": "TRUE"])
        #expect(renamed.resource.attributes.first { $0.key == "service.name" }?.value == "probe-7")
        #expect(renamed.warnings.count == 1)
        #expect(!renamed.enabled)
    }
}
