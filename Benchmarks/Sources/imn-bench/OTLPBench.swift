import ArgumentParser
import CMallocCounter
import Foundation
import IMNTestSupport
import OTLP
import OTel
import ServiceLifecycle
import Synchronization
import Tracing

enum SwiftOTelKeepAlive {
    nonisolated(unsafe) static var kept: [Any] = []
    static func keep(_ value: Any) { kept.append(value) }
}

/// Spans the sink has received.
final class SpanCount: Sendable {
    private let count = Atomic<Int>(0)
    func add(_ value: Int) { count.add(value, ordering: .relaxed) }
    func reset() { count.store(0, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

/// Cost per span (start, 4 attributes, end; then batched, encoded and sent) and spans per second
/// exported, for IMN's exporter and swift-otel 1.6.0's OTLP/HTTP exporter on the same workload
/// against the same local sink, in one run.
struct OTLPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otlp",
        abstract: "Nanoseconds and allocations per span, and spans/s exported to a local sink: IMN's exporter next to swift-otel's.")

    @Option(help: "Spans per run.") var spans = 200_000
    @Option(help: "Run everything on one CPU (the goal is stated for one core).") var oneCore = true
    @Option(help: "Schedule delay of both batch processors, in ms (swift-otel exports one batch per delay).") var delay = 100

    func run() async throws {
        if oneCore { _ = imn_pin_to_cpu(0) }
        let received = SpanCount()
        let sink = try ScriptedHTTPServer(recording: false) { request in received.add(Self.countSpans(request.body)) }
        defer { sink.stop() }
        print(
            "\(spans) spans each, \(oneCore ? "pinned to one CPU" : "on all CPUs"), sink on 127.0.0.1:\(sink.port) (counts the spans of each request), schedule delay \(delay) ms"
        )
        fflush(nil)
        let ours = try await imn(sink: sink, received: received)
        print("  IMN exporter:        \(ours)")
        fflush(nil)
        received.reset()
        let theirs = try await swiftOTel(sink: sink, received: received)
        print("  swift-otel 1.6.0:    \(theirs)")
    }

    struct Figures: CustomStringConvertible {
        var recordNanoseconds: Double
        var recordAllocations: Double
        var exportSeconds: Double
        var exportAllocations: Double
        var spans: Int

        var totalNanoseconds: Double { recordNanoseconds + exportSeconds * 1e9 / Double(spans) }
        var description: String {
            String(
                format: "record %.0f ns/span, %.1f allocations/span; export %.0f spans/s, %.1f allocations/span; total %.0f ns/span",
                recordNanoseconds, recordAllocations, Double(spans) / exportSeconds, exportAllocations, totalNanoseconds)
        }
    }

    /// Phase 1 records every span while nothing exports; phase 2 exports them in batches of 512.
    func imn(sink: ScriptedHTTPServer, received: SpanCount) async throws -> Figures {
        var configuration = OTLPExporterConfiguration(endpoint: "http://127.0.0.1:\(sink.port)")
        configuration.exportTimeout = .seconds(60)
        let exporter = OTLPHTTPExporter(configuration: configuration)
        var batching = OTLPBatchProcessor<SpanData>.Configuration()
        batching.maxQueueSize = spans
        batching.scheduleDelay = .milliseconds(delay)
        let pipeline = OTLPPipeline(
            resource: OTLPResource(attributes: [OTLPAttribute("service.name", "bench")]), scope: OTLPScope(name: "bench"), exporter: exporter,
            spanConfiguration: batching)
        let tracer = OTLPTracer(processor: pipeline.spans)
        let (recordNanoseconds, recordAllocations) = measure(count: spans) { index in
            let span = tracer.startSpan("bench", context: .topLevel, ofKind: .internal)
            span.attributes["module"] = "ping_module"
            span.attributes["attempt"] = index
            span.attributes["rtt"] = 0.000123
            span.attributes["ok"] = true
            span.end()
        }
        let allocationsBefore = imn_allocation_count()
        let start = ContinuousClock.now
        let running = Task { await pipeline.run() }
        while received.value < spans { try await Task.sleep(for: .milliseconds(1)) }
        let exportSeconds = (ContinuousClock.now - start).seconds
        let exportAllocations = Double(imn_allocation_count() - allocationsBefore) / Double(spans)
        running.cancel()
        await running.value
        await exporter.shutdown()
        return Figures(
            recordNanoseconds: recordNanoseconds, recordAllocations: recordAllocations, exportSeconds: exportSeconds,
            exportAllocations: exportAllocations, spans: spans)
    }

    func swiftOTel(sink: ScriptedHTTPServer, received: SpanCount) async throws -> Figures {
        var configuration = OTel.Configuration.default
        configuration.serviceName = "bench"
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.sampler = .alwaysOn
        configuration.traces.otlpExporter.endpoint = "http://127.0.0.1:\(sink.port)"
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        configuration.traces.batchSpanProcessor.maxQueueSize = spans
        configuration.traces.batchSpanProcessor.scheduleDelay = .milliseconds(delay)
        configuration.diagnosticLogLevel = .error
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        let tracer = backend.factory
        // swift-otel's exporter shuts its HTTP client down synchronously in deinit, which traps on
        // an event loop thread (where this benchmark's tasks run): keep it alive until exit.
        SwiftOTelKeepAlive.keep(tracer)
        let (recordNanoseconds, recordAllocations) = measure(count: spans) { index in
            let span = tracer.startSpan("bench", context: .topLevel, ofKind: .internal)
            span.attributes["module"] = "ping_module"
            span.attributes["attempt"] = index
            span.attributes["rtt"] = 0.000123
            span.attributes["ok"] = true
            span.end()
        }
        let allocationsBefore = imn_allocation_count()
        let start = ContinuousClock.now
        let group = ServiceGroup(services: [backend.service], logger: .init(label: "bench"))
        let running = Task { try await group.run() }
        let deadline = ContinuousClock.now + .seconds(120)
        while received.value < spans && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
        let exportSeconds = (ContinuousClock.now - start).seconds
        let exportAllocations = Double(imn_allocation_count() - allocationsBefore) / Double(spans)
        if received.value < spans { print("  (swift-otel delivered \(received.value) of \(spans) spans)") }
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        return Figures(
            recordNanoseconds: recordNanoseconds, recordAllocations: recordAllocations, exportSeconds: exportSeconds,
            exportAllocations: exportAllocations, spans: spans)
    }

    /// Spans in an ExportTraceServiceRequest, by walking the wire format (resource_spans = 1 →
    /// scope_spans = 2 → spans = 2) without decoding them: the sink is not what is measured.
    static func countSpans(_ bytes: [UInt8]) -> Int {
        func fields(_ range: Range<Int>, _ visit: (Int, Range<Int>) -> Void) {
            var index = range.lowerBound
            func varint() -> Int? {
                var value = 0
                var shift = 0
                while index < range.upperBound, shift < 64 {
                    let byte = bytes[index]
                    index += 1
                    value |= Int(byte & 0x7F) << shift
                    shift += 7
                    if byte & 0x80 == 0 { return value }
                }
                return nil
            }
            while index < range.upperBound, let key = varint() {
                switch key & 7 {
                case 0: _ = varint()
                case 1: index += 8
                case 5: index += 4
                case 2:
                    guard let length = varint(), index + length <= range.upperBound else { return }
                    visit(key >> 3, index..<(index + length))
                    index += length
                default: return
                }
            }
        }
        var count = 0
        fields(0..<bytes.count) { field, resourceSpans in
            guard field == 1 else { return }
            fields(resourceSpans) { field, scopeSpans in
                guard field == 2 else { return }
                fields(scopeSpans) { field, _ in if field == 2 { count += 1 } }
            }
        }
        return count
    }

    /// Nanoseconds and allocations per call of `body`, over `count` calls.
    func measure(count: Int, _ body: (Int) -> Void) -> (Double, Double) {
        let allocations = imn_allocation_count()
        let start = ContinuousClock.now
        for index in 0..<count { body(index) }
        let elapsed = ContinuousClock.now - start
        return (elapsed.seconds * 1e9 / Double(count), Double(imn_allocation_count() - allocations) / Double(count))
    }
}
