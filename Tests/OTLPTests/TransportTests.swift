import Foundation
import IMNTestSupport
import Testing

@testable import OTLP

/// The exporter against a scripted local HTTP server: what is retried, after how long, and what not.
struct TransportTests {
    static let body = OTLPEncoder.traces(
        resource: OTLPResource(attributes: [OTLPAttribute("service.name", "imn-test")]), scope: OTLPScope(name: "imn"),
        spans: [SpanData(traceID: .random(), spanID: .random(), name: "s", kind: .internal, startTimeUnixNano: 1, endTimeUnixNano: 2)])

    static func exporter(port: Int, gzip: Bool = false, exportTimeout: Duration = .seconds(10)) -> OTLPHTTPExporter {
        var configuration = OTLPExporterConfiguration(endpoint: "http://127.0.0.1:\(port)/")
        configuration.gzip[.traces] = gzip
        configuration.initialBackoff = .milliseconds(100)
        configuration.exportTimeout = exportTimeout
        configuration.headers[.traces] = [("Authorization", "Bearer t")]
        return OTLPHTTPExporter(configuration: configuration)
    }

    static func seconds(_ duration: Duration) -> Double { Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18 }

    @Test func retryAfterInSecondsIsHonoured() async throws {
        let server = try ScriptedHTTPServer(replies: [ScriptedHTTPServer.Reply(status: 503, headers: [("Retry-After", "1")])])
        defer { server.stop() }
        let exporter = Self.exporter(port: server.port)
        #expect(await exporter.export(.traces, body: Self.body, items: 1) == .exported)
        await exporter.shutdown()
        let requests = server.requests
        #expect(requests.count == 2)
        let gap = Self.seconds(requests[1].receivedAt - requests[0].receivedAt)
        // Without Retry-After the retry would come after the 100 ms backoff; the upper bound is loose
        // because a loaded two-core machine delays threads by a second or more.
        #expect(gap >= 0.95 && gap < 8, "retried after \(gap) s")
        #expect(requests[0].path == "/v1/traces")
        #expect(requests[0].headers["content-type"] == "application/x-protobuf")
        #expect(requests[0].headers["authorization"] == "Bearer t")
        #expect(requests[0].headers["user-agent"]?.hasPrefix("IMN-OTLP-Exporter/") == true)
        #expect(requests[1].body == Self.body, "the same request again")
        #expect(exporter.statistics.retries == 1)
        #expect(exporter.statistics.exportedItems == 1)
    }

    @Test func retryAfterAsAnHTTPDateIsHonoured() async throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let date = formatter.string(from: Date().addingTimeInterval(2.5))
        let server = try ScriptedHTTPServer(replies: [ScriptedHTTPServer.Reply(status: 429, headers: [("Retry-After", date)])])
        defer { server.stop() }
        // A deadline well past the date: on a loaded CI machine the export took over 10 s.
        let exporter = Self.exporter(port: server.port, exportTimeout: .seconds(30))
        #expect(await exporter.export(.traces, body: Self.body, items: 1) == .exported)
        await exporter.shutdown()
        let requests = server.requests
        #expect(requests.count == 2)
        let gap = Self.seconds(requests[1].receivedAt - requests[0].receivedAt)
        // At least until the date (whole seconds); the upper bound only says it did not wait for
        // ever (a loaded CI machine once took over 10 s).
        #expect(gap >= 0.95 && gap < 30, "waited \(gap) s for a date 2.5 s ahead (whole seconds)")
    }

    @Test func badRequestIsDroppedAndCountedWithoutRetry() async throws {
        // google.rpc.Status { code = 3; message = "bad span" }
        let status: [UInt8] = [0x08, 0x03, 0x12, 0x08] + Array("bad span".utf8)
        let server = try ScriptedHTTPServer(replies: [ScriptedHTTPServer.Reply(status: 400, body: status)])
        defer { server.stop() }
        let exporter = Self.exporter(port: server.port)
        let outcome = await exporter.export(.traces, body: Self.body, items: 7)
        await exporter.shutdown()
        #expect(outcome == .dropped("HTTP 400: bad span"))
        #expect(server.requests.count == 1)
        #expect(exporter.statistics.droppedItems == 7)
        #expect(exporter.statistics.retries == 0)
    }

    @Test func otherServerErrorsAreNotRetried() async throws {
        let server = try ScriptedHTTPServer(replies: [ScriptedHTTPServer.Reply(status: 500)])
        defer { server.stop() }
        let exporter = Self.exporter(port: server.port)
        if case .dropped = await exporter.export(.traces, body: Self.body, items: 1) {} else { Issue.record("a 500 must be dropped") }
        await exporter.shutdown()
        #expect(server.requests.count == 1)
    }

    @Test func refusedConnectionsAreRetriedWithBackoffUntilTheCollectorAppears() async throws {
        let port = FreePort.next()
        let exporter = Self.exporter(port: port)
        let starting = Task {
            try await Task.sleep(for: .milliseconds(700))
            return try ScriptedHTTPServer(port: port)
        }
        let outcome = await exporter.export(.traces, body: Self.body, items: 1)
        let server = try await starting.value
        defer { server.stop() }
        await exporter.shutdown()
        #expect(outcome == .exported)
        #expect(exporter.statistics.retries >= 2, "100 ms doubling: several refusals before 700 ms")
        #expect(server.requests.count == 1)
    }

    @Test func givesUpWhenNoRetryFitsInTheExportTimeout() async throws {
        let port = FreePort.next()
        let exporter = Self.exporter(port: port, exportTimeout: .milliseconds(800))
        let start = ContinuousClock.now
        let outcome = await exporter.export(.traces, body: Self.body, items: 3)
        await exporter.shutdown()
        if case .dropped = outcome {} else { Issue.record("expected a drop, got \(outcome)") }
        // 800 ms of retries, then a drop; the bound is loose for a loaded machine, but far below
        // what retrying without the export timeout would take.
        #expect(ContinuousClock.now - start < .seconds(8))
        #expect(exporter.statistics.droppedItems == 3)
    }

    @Test func partialSuccessIsLoggedAndNotRetried() async throws {
        // ExportTraceServiceResponse { partial_success { rejected_spans = 3; error_message = "too old" } }
        let inner: [UInt8] = [0x08, 0x03, 0x12, 0x07] + Array("too old".utf8)
        let server = try ScriptedHTTPServer(replies: [ScriptedHTTPServer.Reply(status: 200, body: [0x0A, UInt8(inner.count)] + inner)])
        defer { server.stop() }
        let exporter = Self.exporter(port: server.port)
        #expect(await exporter.export(.traces, body: Self.body, items: 5) == .partiallyRejected(3, "too old"))
        await exporter.shutdown()
        #expect(server.requests.count == 1)
        #expect(exporter.statistics.rejectedItems == 3)
        #expect(exporter.statistics.exportedItems == 2)
        // The Collector's empty partial_success (0 rejected, no message) is plain success.
        let empty = try ScriptedHTTPServer(replies: [ScriptedHTTPServer.Reply(status: 200, body: [0x0A, 0x00])])
        defer { empty.stop() }
        let second = Self.exporter(port: empty.port)
        #expect(await second.export(.traces, body: Self.body, items: 1) == .exported)
        await second.shutdown()
    }

    @Test func gzipBodiesDecompressToTheSameBytes() async throws {
        let server = try ScriptedHTTPServer()
        defer { server.stop() }
        let exporter = Self.exporter(port: server.port, gzip: true)
        let spans = (0..<200).map { index in
            SpanData(traceID: .random(), spanID: .random(), name: "span \(index % 5)", kind: .client, startTimeUnixNano: 1, endTimeUnixNano: 2)
        }
        let body = OTLPEncoder.traces(resource: OTLPResource(attributes: []), scope: OTLPScope(name: "imn"), spans: spans)
        #expect(await exporter.export(.traces, body: body, items: spans.count) == .exported)
        #expect(await exporter.export(.traces, body: body, items: spans.count) == .exported)
        await exporter.shutdown()
        let request = try #require(server.requests.first)
        #expect(request.headers["content-encoding"] == "gzip")
        #expect(request.body.count < body.count)
        #expect(Gzip.decompress(request.body, limit: 1 << 20) == body)
        #expect(server.requests.count == 2)
    }

    @Test func environmentVariablesFollowTheSpecification() {
        var warnings: [String] = []
        var errors: [String] = []
        let configuration = OTLPExporterConfiguration.fromEnvironment(
            [
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://metrics:9000",
                "OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%3Db,x=y", "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "z=1", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "soon", "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": "none",
            ], warnings: &warnings, errors: &errors)
        #expect(configuration.endpoints[.traces] == "http://collector:4318/v1/traces")
        #expect(configuration.endpoints[.logs] == "http://collector:4318/v1/logs")
        #expect(configuration.endpoints[.metrics] == "http://metrics:9000", "a per-signal endpoint is used as it is")
        #expect(configuration.headers[.traces]?.map { "\($0.0)=\($0.1)" } == ["api-key=a=b", "x=y"])
        #expect(configuration.headers[.logs]?.map { "\($0.0)=\($0.1)" } == ["api-key=a=b", "x=y", "z=1"])
        #expect(configuration.timeout[.metrics] == .milliseconds(2500))
        #expect(configuration.timeout[.traces] == .seconds(10), "a bad value is ignored")
        #expect(warnings.count == 1)
        #expect(configuration.gzip[.traces] == true)
        #expect(configuration.gzip[.logs] == false)
        #expect(errors.isEmpty)
        let defaults = OTLPExporterConfiguration.fromEnvironment([:], warnings: &warnings, errors: &errors)
        #expect(defaults.endpoints[.metrics] == "http://localhost:4318/v1/metrics")
    }
}
