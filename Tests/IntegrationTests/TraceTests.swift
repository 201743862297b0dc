import Foundation
import IMNTestSupport
import OTLP
import OTLPSink
import Testing

/// One measurement, one trace: `imn server`, `imn agent` and `imn dbos` as processes exporting to
/// an in-process `OTLPSink`; the POST carries a known traceparent, and every span of that trace
/// must hang off it through correct parent links, from all three services.
@Suite(
    .enabled(
        if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable && ServerBinaries.imn != nil,
        "redis-server, nats-server and the built imn binary are needed: run scripts/test"))
struct TraceTests {
    @Test func onePingIsOneTraceAcrossServerAgentAndDBOSWithProbeMetrics() async throws {
        let sinkPort = ListeningPort()
        let sink = OTLPSink(port: 0)
        let receiving = Task { try await sink.run { sinkPort.set($0) } }
        #expect(await eventually { sinkPort.value != 0 })
        try await withRedisServer { redis in
            try await withNATSServer { nats in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-trace-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                let environment = [
                    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(sinkPort.value)", "OTEL_BSP_SCHEDULE_DELAY": "200",
                    "OTEL_BLRP_SCHEDULE_DELAY": "200", "OTEL_METRIC_EXPORT_INTERVAL": "500",
                ]
                let (dbosPort, httpPort, agentPort) = (FreePort.next(), FreePort.next(), FreePort.next())
                let dbos = IMNProcesses.dbos(port: dbosPort, redisURL: redis.redisURL, directory: directory, environment: environment)
                let server = IMNProcesses.server(
                    port: httpPort, natsURL: nats.natsURL, dbosAddress: "127.0.0.1:\(dbosPort)", directory: directory, environment: environment)
                let agent = IMNProcesses.agent(
                    metricsPort: agentPort, natsURL: nats.natsURL, directory: directory, heartbeatInterval: 0.3, environment: environment)
                try await withServer(dbos) { _ in
                    try await withServer(server) { _ in
                        try await withServer(agent) { _ in
                            #expect(await eventually { (try? await HTTP.request("GET", port: httpPort, path: "/agents/agent_1"))?.status == 200 })
                            let traceID = TraceID.random()
                            let caller = SpanID.random()
                            let reply = try await HTTP.request(
                                "POST", port: httpPort, path: "/agent/agent_1/ping_module?wait=10",
                                body: #"{"host":"127.0.0.1","count":2,"interval":0.05}"#,
                                headers: ["traceparent": "00-\(traceID)-\(caller)-01"])
                            #expect(reply.status == 200, "\(reply.body)")
                            try await Self.checkTrace(sink, traceID: traceID, caller: caller)
                            try await Self.checkPhases(sink, httpPort: httpPort, target: "http://127.0.0.1:\(sinkPort.value)/")
                        }
                    }
                }
            }
        }
        receiving.cancel()
        _ = await receiving.result
    }

    static func spans(_ sink: OTLPSink, _ traceID: TraceID) -> [(span: SpanData, service: String)] {
        sink.items.compactMap { item in
            guard case .span(let span, _) = item, span.traceID == traceID else { return nil }
            return (span, item.serviceName)
        }
    }

    /// An `http` run's phases are child spans of a client span inside the run's span.
    static func checkPhases(_ sink: OTLPSink, httpPort: Int, target: String) async throws {
        let traceID = TraceID.random()
        let reply = try await HTTP.request(
            "POST", port: httpPort, path: "/agent/agent_1/http?wait=10", body: #"{"url":"\#(target)"}"#,
            headers: ["traceparent": "00-\(traceID)-\(SpanID.random())-01"])
        #expect(reply.status == 200, "\(reply.body)")
        #expect(await eventually(timeout: .seconds(10)) { Self.spans(sink, traceID).contains { $0.span.name == "http GET" } })
        try await Task.sleep(for: .milliseconds(400))
        let spans = Self.spans(sink, traceID).map(\.span)
        let run = try #require(spans.first { $0.name == "http run" })
        let probe = try #require(spans.first { $0.name == "http GET" })
        #expect(probe.parentSpanID == run.spanID && probe.kind == .client)
        let phases = spans.filter { $0.parentSpanID == probe.spanID }
        #expect(Set(phases.map(\.name)).isSuperset(of: ["connect", "first_byte"]), "\(phases.map(\.name))")
        #expect(phases.allSatisfy { $0.startTimeUnixNano >= probe.startTimeUnixNano && $0.endTimeUnixNano <= probe.endTimeUnixNano + 1000 })
    }

    static func checkTrace(_ sink: OTLPSink, traceID: TraceID, caller: SpanID) async throws {
        // Wait until the last span of the trace (the HTTP server span, ended last) and the rest are in.
        #expect(
            await eventually(timeout: .seconds(15)) {
                let spans = Self.spans(sink, traceID)
                return Set(spans.map(\.service)) == ["imn-server", "imn-agent", "imn-dbos"] && spans.contains { $0.span.parentSpanID == caller }
            })
        try await Task.sleep(for: .milliseconds(600))  // stragglers of the same trace
        let spans = Self.spans(sink, traceID)
        let ids = Set(spans.map(\.span.spanID))
        for (span, service) in spans {
            let parent = span.parentSpanID
            #expect(parent == caller || parent.map(ids.contains) == true, "\(service) \(span.name) hangs off a span that is not in the trace")
        }
        func one(_ service: String, _ kind: SpanData.Kind, _ name: (String) -> Bool) -> SpanData? {
            spans.first { $0.service == service && $0.span.kind == kind && name($0.span.name) }?.span
        }
        let http = try #require(one("imn-server", .server) { $0.contains("/agent/") })
        #expect(http.parentSpanID == caller, "the server continued the caller's trace")
        #expect(http.flags & 0x300 == 0x300, "its parent is remote")
        let producer = try #require(one("imn-server", .producer) { $0 == "imn.cmd.agent_1.ping_module publish" })
        #expect(producer.parentSpanID == http.spanID)
        let consumer = try #require(one("imn-agent", .consumer) { $0 == "imn.cmd.agent_1.ping_module process" })
        #expect(consumer.parentSpanID == producer.spanID)
        let run = try #require(one("imn-agent", .internal) { $0 == "ping_module run" })
        #expect(run.parentSpanID == consumer.spanID)
        #expect(run.attributes.contains(OTLPAttribute("imn.outcome", "completed")))
        let ingestion = spans.filter {
            $0.service == "imn-server" && $0.span.kind == .consumer && $0.span.name == "imn.res.agent_1.ping_module process"
        }
        #expect(ingestion.count >= 1)
        #expect(ingestion.allSatisfy { [consumer.spanID, run.spanID].contains($0.span.parentSpanID) }, "results continue the agent's trace")
        let store = try #require(one("imn-dbos", .server) { $0 == "imn.dbos.v1.DBOS/StoreResult" })
        let storeClient = try #require(spans.first { $0.span.spanID == store.parentSpanID })
        #expect(storeClient.service == "imn-server" && storeClient.span.kind == .client)
        #expect(ingestion.contains { $0.span.spanID == storeClient.span.parentSpanID }, "StoreResult happens inside ingestion")
        // The creation, made with any others of the moment in one call, links to that batch's
        // trace, where the DBOS side of the call is (and the batch links back).
        let create = try #require(one("imn-server", .client) { $0 == "imn.dbos.v1.DBOS/CreateMeasurement" })
        let batchLink = try #require(create.links.first, "the creation links to its batch")
        #expect(
            await eventually {
                let batch = Self.spans(sink, batchLink.traceID)
                return batch.contains { $0.span.spanID == batchLink.spanID && $0.span.links.contains { $0.spanID == create.spanID } }
                    && batch.contains { $0.service == "imn-dbos" && $0.span.name == "imn.dbos.v1.DBOS/CreateMeasurements" }
            }, "\(Self.spans(sink, batchLink.traceID).map { "\($0.service) \($0.span.name)" })")
        // One span per DBOS call: its Redis commands are events on it, not spans of their own.
        #expect(!spans.contains { $0.service == "imn-dbos" && $0.span.name.hasPrefix("redis ") })
        #expect(store.events.contains { $0.name.hasPrefix("redis ") }, "\(store.events.map(\.name))")
        // The probe's RTTs as a metric, with bounded attributes.
        #expect(
            await eventually(timeout: .seconds(10)) {
                sink.items.contains { item in
                    guard case .metric(let metric, _) = item, item.serviceName == "imn-agent", metric.name == "imn_agent_probe_rtt_seconds",
                        case .histogram(let points, .cumulative) = metric.data
                    else { return false }
                    return points.contains { $0.count >= 2 && $0.attributes.contains(OTLPAttribute("module", "ping_module")) }
                }
            })
    }
}
