import Foundation
import IMNTestSupport
import OTLP
import OTLPSink
import Testing

/// `imn otlp-sink`'s receiver, fed by our exporter (gzip and not).
struct SinkTests {
    @Test func sinkDecodesWhatTheExporterSends() async throws {
        let port = ListeningPort()
        let sink = OTLPSink(port: 0)
        let running = Task { try await sink.run { port.set($0) } }
        #expect(await eventually { port.value != 0 })
        for gzip in [false, true] {
            var configuration = OTLPExporterConfiguration(endpoint: "http://127.0.0.1:\(port.value)")
            for signal in OTLPSignal.allCases { configuration.gzip[signal] = gzip }
            let exporter = OTLPHTTPExporter(configuration: configuration)
            let resource = OTLPResource(attributes: [OTLPAttribute("service.name", "imn-test")])
            let scope = OTLPScope(name: "imn")
            let span = SpanData(traceID: .random(), spanID: .random(), name: "gzip \(gzip)", kind: .server, startTimeUnixNano: 1, endTimeUnixNano: 2)
            #expect(await exporter.export(.traces, body: OTLPEncoder.traces(resource: resource, scope: scope, spans: [span]), items: 1) == .exported)
            let metric = MetricData(name: "imn.test", data: .gauge([NumberPoint(timeUnixNano: 3, value: .int(7))]))
            #expect(
                await exporter.export(.metrics, body: OTLPEncoder.metrics(resource: resource, scope: scope, metrics: [metric]), items: 1) == .exported
            )
            let log = LogData(timeUnixNano: 4, observedTimeUnixNano: 4, severityNumber: 9, severityText: "INFO", body: "hello")
            #expect(await exporter.export(.logs, body: OTLPEncoder.logs(resource: resource, scope: scope, logs: [log]), items: 1) == .exported)
            await exporter.shutdown()
        }
        let items = sink.items
        #expect(items.count == 6)
        let spans = items.compactMap { if case .span(let span, _) = $0 { span.name } else { nil } }
        #expect(spans == ["gzip false", "gzip true"])
        #expect(items.allSatisfy { $0.serviceName == "imn-test" })
        #expect(items.contains { $0.text.hasPrefix("log    imn-test INFO hello") })
        #expect(items.contains { $0.json["metric"]?["points"]?[0]?["value"] == 7 })
        running.cancel()
        _ = await running.result
    }
}
