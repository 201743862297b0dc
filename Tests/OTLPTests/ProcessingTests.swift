import Foundation
import IMNTestSupport
import Synchronization
import Testing

@testable import OTLP

struct ProcessingTests {
    static func span(_ index: Int) -> SpanData {
        var span = SpanData(
            traceID: TraceID(high: 1, low: UInt64(index) + 1), spanID: SpanID(UInt64(index) + 1), name: "probe", kind: .internal,
            startTimeUnixNano: 1, endTimeUnixNano: 2)
        span.attributes = [
            OTLPAttribute("module", "ping_module"), OTLPAttribute("agent.id", "agent_1"), OTLPAttribute("attempt", .int(Int64(index))),
            OTLPAttribute("ok", true),
        ]
        return span
    }

    @Test func exportsFullBatchesAtOnceAndTheRestAfterTheDelay() async throws {
        let batches = Mutex<[Int]>([])
        var configuration = OTLPBatchProcessor<SpanData>.Configuration()
        configuration.maxExportBatchSize = 10
        configuration.scheduleDelay = .milliseconds(300)
        let processor = OTLPBatchProcessor<SpanData>(configuration: configuration) { batch in batches.withLock { $0.append(batch.count) } }
        let running = Task { await processor.run() }
        for index in 0..<25 { processor.add(Self.span(index)) }
        // Timings are loose (a loaded CI machine can stall a thread for seconds); the shape is not:
        // full batches go without waiting for the delay, and the rest follows in a smaller one.
        #expect(await eventually(timeout: .seconds(10)) { batches.withLock { $0.filter { $0 == 10 }.count } >= 2 }, "full batches go at once")
        #expect(await eventually(timeout: .seconds(10)) { batches.withLock { $0.reduce(0, +) } == 25 }, "the rest after the delay")
        let shape = batches.withLock { $0 }
        #expect(shape.allSatisfy { $0 <= 10 } && shape.last.map { $0 < 10 } == true, "\(shape)")
        running.cancel()
        await running.value
    }

    @Test func neverTwoExportsAtOnceAndAFinalFlushOnShutdown() async throws {
        let active = Atomic<Int>(0)
        let overlapped = Atomic<Bool>(false)
        let exported = Atomic<Int>(0)
        var configuration = OTLPBatchProcessor<SpanData>.Configuration()
        configuration.maxExportBatchSize = 8
        configuration.scheduleDelay = .seconds(60)
        let processor = OTLPBatchProcessor<SpanData>(configuration: configuration) { batch in
            if active.add(1, ordering: .relaxed).newValue > 1 { overlapped.store(true, ordering: .relaxed) }
            try? await Task.sleep(for: .milliseconds(20))
            active.subtract(1, ordering: .relaxed)
            exported.add(batch.count, ordering: .relaxed)
        }
        let running = Task { await processor.run() }
        for index in 0..<100 { processor.add(Self.span(index)) }
        try await Task.sleep(for: .milliseconds(50))
        running.cancel()  // shutdown: what is queued is flushed
        await running.value
        let (count, overlap) = (exported.load(ordering: .relaxed), overlapped.load(ordering: .relaxed))
        #expect(count == 100)
        #expect(!overlap)
    }

    /// With no collector listening, a million spans: memory stays bounded, drops are counted, and
    /// adding never waits for the network.
    @Test func aMillionSpansWithNoCollectorStayBoundedAndNeverBlock() async throws {
        var configuration = OTLPExporterConfiguration(endpoint: "http://127.0.0.1:\(FreePort.next())")
        configuration.exportTimeout = .milliseconds(500)
        configuration.initialBackoff = .milliseconds(100)
        let exporter = OTLPHTTPExporter(configuration: configuration)
        let pipeline = OTLPPipeline(
            resource: OTLPResource(attributes: [OTLPAttribute("service.name", "imn-test")]), scope: OTLPScope(name: "imn"), exporter: exporter)
        let running = Task { await pipeline.run() }
        let before = Self.residentMegabytes()
        // A tight loop: on a Dispatch thread, so it does not hold one of the few cooperative threads
        // every test shares (and the export path keeps running beside it).
        // The 1,000-add chunks that took 250 ms or more. An add that waited for the network would
        // stall at every export attempt (several a second, all through the run); a loaded two-core
        // machine preempting the loop stalls a chunk once or twice (one took 336 ms in CI).
        let stalls = try await offload { () -> [Duration] in
            var stalls: [Duration] = []
            let total = 1_000_000
            for chunk in 0..<(total / 1000) {
                let start = ContinuousClock.now
                for index in (chunk * 1000)..<(chunk * 1000 + 1000) { pipeline.spans.add(Self.span(index)) }
                let took = ContinuousClock.now - start
                if took >= .milliseconds(250) { stalls.append(took) }
            }
            return stalls
        }
        let after = Self.residentMegabytes()
        let statistics = pipeline.spans.statistics
        running.cancel()
        await running.value
        #expect(statistics.dropped > 900_000, "dropped \(statistics.dropped)")
        #expect(statistics.queued <= 2048)
        #expect(after - before < 64, "RSS grew from \(before) MB to \(after) MB")
        #expect(stalls.count < 3, "1,000 adds took 250 ms or more \(stalls.count) times: \(stalls)")
        #expect(exporter.statistics.droppedItems > 0, "exports failed and were counted")
    }

    static func residentMegabytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = Int(statm.split(separator: " ").dropFirst().first ?? "0") ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / (1024 * 1024)
    }
}
