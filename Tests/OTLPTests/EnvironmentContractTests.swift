import CoreMetrics
import Foundation
import IMNCore
import IMNTestSupport
import Testing
import Tracing

@testable import OTLP

/// The OTEL_* variables beyond endpoint and headers: protocol, TLS files, exporters, sampler,
/// propagators, metric export timeout and limits. What reaches the wire is read back by the
/// independent decoder (scripts/otlp/decode.py).
struct EnvironmentContractTests {
    static func setup(_ environment: [String: String]) throws -> OTLPSetup {
        try OTLPSetup.fromEnvironment(serviceName: "imn-test", version: "1", instanceID: "t", environment: environment)
    }

    static func errors(_ environment: [String: String]) -> String? {
        do {
            _ = try setup(environment)
            return nil
        } catch let error as OTLPConfigurationError {
            return error.description
        } catch {
            return "\(error)"
        }
    }

    @Test func aProtocolOtherThanHTTPProtobufStopsStartUp() throws {
        #expect(Self.errors(["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"])?.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported") == true)
        #expect(Self.errors(["OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json"])?.contains("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/json") == true)
        #expect(Self.errors(["OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"]) == nil)
        // The per-signal value wins; a signal not exported over OTLP is not checked.
        #expect(Self.errors(["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"]) != nil)
        #expect(
            Self.errors([
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "console",
                "OTEL_LOGS_EXPORTER": "none",
            ]) == nil)
        #expect(Self.errors(["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_SDK_DISABLED": "true"]) == nil)
        #expect(Self.errors(["OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"])?.contains("cannot read the file") == true)
        #expect(Self.errors(["OTEL_EXPORTER_OTLP_CLIENT_KEY": "/etc/hostname"])?.contains("go together") == true)
    }

    @Test(.enabled(if: ServerBinaries.imn != nil, "the built imn binary is needed"))
    func theBinaryRefusesToStartWithAnUnsupportedProtocol() async throws {
        let imn = try #require(ServerBinaries.imn)
        let run = try await offload {
            try runProgram(imn, ["dbos", "--port", "\(FreePort.next())"], environment: ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"])
        }
        #expect(run.status != 0)
        #expect(run.standardError.contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc is not supported"), "\(run.standardError)")
    }

    @Test func exportersNoneAndConsole() async throws {
        let none = try Self.setup(["OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"])
        #expect(none.tracer.processor == nil)
        #expect(none.logHandler(label: "x", level: .info) == nil)
        #expect(!none.exports(.metrics))
        let span = none.tracer.startSpan("not recorded", context: .topLevel)
        #expect(!span.isRecording)
        #expect(span.context.otlpSpanContext?.traceFlags == 1, "still sampled: the next process records its part")

        var warnings: [String] = []
        var errors: [String] = []
        var configuration = OTLPExporterConfiguration.fromEnvironment(
            ["OTEL_TRACES_EXPORTER": "console", "OTEL_LOGS_EXPORTER": "otlp,console", "OTEL_METRICS_EXPORTER": "zipkin"], warnings: &warnings,
            errors: &errors)
        #expect(configuration.destinations[.traces] == [.console])
        #expect(configuration.destinations[.logs] == [.otlp, .console])
        #expect(configuration.destinations[.metrics] == [], "an unknown exporter is left out with a warning")
        #expect(warnings.count == 1 && warnings[0].contains("zipkin"))
        // Console output: JSON lines of the decoded export.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("imn-console-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: file) }
        let handle = try FileHandle(forWritingTo: file)
        configuration.consoleFileDescriptor = handle.fileDescriptor
        let exporter = OTLPHTTPExporter(configuration: configuration)
        let spans = [
            SpanData(
                traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), name: "GET /agents", kind: .server, startTimeUnixNano: 10, endTimeUnixNano: 20)
        ]
        let outcome = await exporter.export(
            .traces,
            body: OTLPEncoder.traces(
                resource: OTLPResource(attributes: [OTLPAttribute("service.name", "imn-test")]), scope: OTLPScope(name: "imn"), spans: spans),
            items: 1)
        try handle.close()
        #expect(outcome == .exported)
        let lines = String(decoding: try Data(contentsOf: file), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 1)
        let line = try #require(JSONValue(parsing: Array(lines[0].utf8)))
        #expect(line["signal"] == "traces" && line["service"] == "imn-test")
        #expect(line["span"]?["name"] == "GET /agents" && line["span"]?["trace_id"] == "00000000000000010000000000000002")
        #expect(exporter.statistics.requests == 0, "console only: nothing sent over HTTP")
    }

    @Test(.enabled(if: ServerBinaries.imn != nil, "the built imn binary is needed"))
    func aProcessWithTheConsoleExporterPrintsItsLogs() async throws {
        let imn = try #require(ServerBinaries.imn)
        let port = FreePort.next()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-console-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // No Redis on port 1: DBOS starts anyway and logs a warning, which the console exporter prints as JSON.
        let dbos = ServerProcess(
            name: "dbos", executable: imn, port: port, directory: directory,
            arguments: ["dbos", "--port", "\(port)", "--redis-url", "redis://127.0.0.1:1"],
            environment: [
                "OTEL_LOGS_EXPORTER": "console", "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", "OTEL_BLRP_SCHEDULE_DELAY": "100",
            ])
        let output = try await withServer(dbos) { dbos in
            _ = await eventually { (try? String(contentsOf: dbos.logFile, encoding: .utf8))?.contains(#""signal":"logs""#) == true }
            return try String(contentsOf: dbos.logFile, encoding: .utf8)
        }
        let records = output.split(separator: "\n").compactMap { JSONValue(parsing: Array($0.utf8)) }.filter { $0["signal"] == "logs" }
        #expect(!records.isEmpty, "\(output)")
        #expect(records.allSatisfy { $0["service"] == "imn-dbos" && $0["log"]?["severity_text"] != nil })
    }

    @Test func samplers() {
        var warnings: [String] = []
        #expect(OTLPSampler.fromEnvironment([:], warnings: &warnings) == .parentBased(root: .alwaysOn))
        #expect(OTLPSampler.fromEnvironment(["OTEL_TRACES_SAMPLER": "always_off"], warnings: &warnings) == .alwaysOff)
        #expect(
            OTLPSampler.fromEnvironment(["OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"], warnings: &warnings)
                == .parentBased(root: .traceIDRatio(0.25)))
        #expect(warnings.isEmpty)
        #expect(
            OTLPSampler.fromEnvironment(["OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"], warnings: &warnings)
                == .traceIDRatio(1))
        #expect(OTLPSampler.fromEnvironment(["OTEL_TRACES_SAMPLER": "jaeger_remote"], warnings: &warnings) == .default)
        #expect(warnings.count == 2)

        // A ratio keeps about that share of traces, the same ones every time.
        let ids = (0..<4000).map { _ in TraceID.random() }
        let kept = ids.filter { OTLPSampler.traceIDRatio(0.25).shouldSample(traceID: $0, parent: nil) }
        #expect((800...1200).contains(kept.count), "\(kept.count) of 4000")
        #expect(kept.allSatisfy { OTLPSampler.traceIDRatio(0.25).shouldSample(traceID: $0, parent: nil) })
        #expect(kept.allSatisfy { OTLPSampler.traceIDRatio(0.5).shouldSample(traceID: $0, parent: nil) }, "a larger ratio keeps a superset")

        // Parent-based: the parent's flag decides, whatever the root sampler.
        let sampledParent = OTLPSpanContext(traceID: ids[0], spanID: .random(), traceFlags: 1, isRemote: true)
        let unsampledParent = OTLPSpanContext(traceID: ids[0], spanID: .random(), traceFlags: 0, isRemote: true)
        #expect(OTLPSampler.parentBased(root: .alwaysOff).shouldSample(traceID: ids[0], parent: sampledParent))
        #expect(!OTLPSampler.parentBased(root: .alwaysOn).shouldSample(traceID: ids[0], parent: unsampledParent))
        #expect(OTLPSampler.alwaysOn.shouldSample(traceID: ids[0], parent: unsampledParent))
    }

    @Test func alwaysOffRecordsNothingAndTellsTheNextProcess() throws {
        let setup = try Self.setup(["OTEL_TRACES_SAMPLER": "always_off"])
        var carrier: [String: String] = [:]
        setup.tracer.withSpan("root") { span in
            #expect(!span.isRecording)
            setup.tracer.inject(span.context, into: &carrier, using: APITests.Headers())
        }
        #expect(carrier["traceparent"]?.hasSuffix("-00") == true)
        #expect(setup.pipeline.spans.statistics.queued == 0)
    }

    @Test func propagators() throws {
        let both = try Self.setup([:]).tracer
        var incoming = [
            "traceparent": "00-0102030405060708090a0b0c0d0e0f10-1112131415161718-01", "baggage": "tenant=lab%2C1;ttl=5, bad entry,user=ann",
        ]
        var context = ServiceContext.topLevel
        both.extract(incoming, into: &context, using: APITests.Headers())
        #expect(context.otlpBaggage?["tenant"] == "lab,1" && context.otlpBaggage?["user"] == "ann")
        #expect(context.otlpBaggage?.members.count == 2, "the malformed member is skipped")
        var outgoing: [String: String] = [:]
        both.withSpan("child", context: context) { span in both.inject(span.context, into: &outgoing, using: APITests.Headers()) }
        #expect(outgoing["baggage"] == "tenant=lab%2C1;ttl=5,user=ann")
        #expect(outgoing["traceparent"]?.hasPrefix("00-0102030405060708090a0b0c0d0e0f10-") == true)

        var warnings: [String] = []
        #expect(OTLPPropagators.fromEnvironment(["OTEL_PROPAGATORS": "tracecontext,b3"], warnings: &warnings) == .traceContext)
        #expect(warnings.count == 1 && warnings[0].contains("b3"))
        let traceOnly = try Self.setup(["OTEL_PROPAGATORS": "tracecontext"]).tracer
        let nothing = try Self.setup(["OTEL_PROPAGATORS": "none"]).tracer
        for (tracer, expected) in [(traceOnly, ["traceparent"]), (nothing, [])] {
            var extracted = ServiceContext.topLevel
            tracer.extract(incoming, into: &extracted, using: APITests.Headers())
            #expect(extracted.otlpBaggage == nil)
            var injected: [String: String] = [:]
            tracer.inject(context, into: &injected, using: APITests.Headers())
            #expect(injected.keys.sorted() == expected)
        }
        incoming["baggage"] = String(repeating: "k=v,", count: 2100)
        #expect(OTLPBaggage(header: incoming["baggage"]!) == nil, "over 8192 bytes: left out whole")
    }

    @Test func metricExportTimeoutBoundsAllAttempts() async throws {
        // Retry-After 2 s: within the default 30 s the exporter would wait and retry; within 700 ms it cannot.
        let server = try ScriptedHTTPServer(defaultReply: ScriptedHTTPServer.Reply(status: 503, headers: [("Retry-After", "2")]))
        defer { server.stop() }
        let setup = try Self.setup(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(server.port)", "OTEL_METRIC_EXPORT_TIMEOUT": "700"])
        #expect(setup.reader.exportTimeout == .milliseconds(700))
        setup.metrics.makeCounter(label: "imn_test_total", dimensions: []).increment(by: 1)
        let started = ContinuousClock.now
        await setup.reader.exportOnce()
        let took = ContinuousClock.now - started
        // One request and no retry is the proof (a retry would follow the 2 s Retry-After); the
        // time is only a sanity bound, loose for a loaded CI machine (2.3 s seen there).
        #expect(setup.exporter.statistics.droppedItems == 1 && setup.exporter.statistics.requests == 1)
        #expect(took < .seconds(10), "\(took)")
        await setup.exporter.shutdown()
    }

    @Test(.enabled(if: OTLPDecodeScript.available, "python3 with opentelemetry-proto is needed: run scripts/setup"))
    func limitsCutAttributesEventsAndLinksAndCountWhatWasDropped() async throws {
        let setup = try Self.setup([
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "2", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "4", "OTEL_SPAN_EVENT_COUNT_LIMIT": "1",
            "OTEL_SPAN_LINK_COUNT_LIMIT": "0", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "1", "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT": "3",
        ])
        #expect(setup.limits.spanAttributeValueLength == 4 && setup.limits.logAttributeValueLength == 4 && setup.limits.logAttributeCount == 3)
        var span = SpanData(traceID: .random(), spanID: .random(), name: "s", kind: .internal, startTimeUnixNano: 1, endTimeUnixNano: 2)
        span.attributes = [OTLPAttribute("a", "abcdefgh"), OTLPAttribute("b", .array(["long string", 7])), OTLPAttribute("c", 3)]
        span.events = [
            SpanData.Event(timeUnixNano: 1, name: "e1", attributes: [OTLPAttribute("x", 1), OTLPAttribute("y", 2)]),
            SpanData.Event(timeUnixNano: 2, name: "e2", attributes: []),
        ]
        span.links = [SpanData.Link(traceID: .random(), spanID: .random(), traceState: "", attributes: [], flags: 0x100)]
        setup.limits.apply(to: &span)
        let json = try await OTLPDecodeScript.decode(
            "traces", OTLPEncoder.traces(resource: OTLPResource(attributes: []), scope: OTLPScope(name: "imn"), spans: [span]))
        let decoded = try #require(json["resource_spans"]?[0]?["scope_spans"]?[0]?["spans"]?[0])
        #expect(decoded["attributes"]?.arrayValue?.count == 2)
        #expect(decoded["attributes"]?[0]?["value"]?["string_value"] == "abcd")
        #expect(decoded["attributes"]?[1]?["value"]?["array_value"]?["values"]?[0]?["string_value"] == "long")
        #expect(decoded["dropped_attributes_count"] == 1)
        #expect(decoded["events"]?.arrayValue?.count == 1 && decoded["dropped_events_count"] == 1)
        #expect(decoded["events"]?[0]?["dropped_attributes_count"] == 1)
        #expect(decoded["links"]?.arrayValue?.isEmpty != false && decoded["dropped_links_count"] == 1)

        var record = LogData(
            timeUnixNano: 1, observedTimeUnixNano: 1, severityNumber: 9, severityText: "INFO", body: "b",
            attributes: (0..<5).map { OTLPAttribute("k\($0)", .string("value-\($0)")) })
        setup.limits.apply(to: &record)
        let logs = try await OTLPDecodeScript.decode(
            "logs", OTLPEncoder.logs(resource: OTLPResource(attributes: []), scope: OTLPScope(name: "imn"), logs: [record]))
        let decodedRecord = try #require(logs["resource_logs"]?[0]?["scope_logs"]?[0]?["log_records"]?[0])
        #expect(decodedRecord["attributes"]?.arrayValue?.count == 3 && decodedRecord["dropped_attributes_count"] == 2)
        #expect(decodedRecord["attributes"]?[0]?["value"]?["string_value"] == "valu")
    }

    @Test(
        .enabled(if: OTLPDecodeScript.available, "python3 with opentelemetry-proto is needed: run scripts/setup"),
        .enabled(if: ServerBinaries.find("openssl") != nil, "openssl is needed to make test certificates"))
    func certificatesAndMutualTLS() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-otlp-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let openssl = try #require(ServerBinaries.find("openssl"))
        for (name, subject) in [("server", "/CN=localhost"), ("client", "/CN=imn-test-client")] {
            let made = try runProgram(
                openssl,
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("\(name)-key.pem"), "-out", path("\(name).pem"), "-days", "1",
                    "-subj", subject, "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                ])
            #expect(made.status == 0, "\(made.output)")
        }
        try FileManager.default.createDirectory(atPath: path("received"), withIntermediateDirectories: true)
        let receiver = Process()
        receiver.executableURL = URL(fileURLWithPath: try #require(OTLPDecodeScript.python))
        receiver.arguments = [
            Repository.path("scripts/otlp/tls-receiver.py").path, path("server.pem"), path("server-key.pem"), path("client.pem"), path("received"),
        ]
        let pipe = Pipe()
        receiver.standardOutput = pipe
        // Nothing of the test runner's: a child holding its output pipe would keep `swift test` waiting.
        receiver.standardError = FileHandle.nullDevice
        receiver.standardInput = FileHandle.nullDevice
        try receiver.run()
        // SIGKILL: the test runner's children inherit SIGTERM ignored.
        defer { kill(receiver.processIdentifier, SIGKILL) }
        let portLine = try await offload { String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self) }
        let port = try #require(Int(portLine.trimmed))

        func export(_ environment: [String: String]) async throws -> OTLPExportOutcome {
            let setup = try Self.setup(["OTEL_EXPORTER_OTLP_ENDPOINT": "https://localhost:\(port)"].merging(environment) { $1 })
            var spanData = SpanData(traceID: .random(), spanID: .random(), name: "tls", kind: .client, startTimeUnixNano: 1, endTimeUnixNano: 2)
            spanData.attributes = [OTLPAttribute("over", "mTLS")]
            let outcome = await setup.exporter.export(
                .traces, body: OTLPEncoder.traces(resource: setup.resource, scope: OTLPScope(name: "imn"), spans: [spanData]), items: 1,
                timeout: .seconds(2))
            await setup.exporter.shutdown()
            return outcome
        }
        // Neither trusted nor identified: the system's roots do not know the test CA.
        if case .exported = try await export([:]) { Issue.record("exported to an untrusted server") }
        // Trusted, but no client certificate: the receiver refuses the handshake.
        if case .exported = try await export(["OTEL_EXPORTER_OTLP_CERTIFICATE": path("server.pem")]) {
            Issue.record("exported without a client certificate")
        }
        // Both, the per-signal names winning over the general ones.
        let outcome = try await export([
            "OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent-is-not-read", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": path("server.pem"),
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE": path("client.pem"), "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY": path("client-key.pem"),
            "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
        ])
        #expect(outcome == .exported)
        let files = try FileManager.default.contentsOfDirectory(atPath: path("received"))
        #expect(files == ["1-traces.bin"])
        let body = try Data(contentsOf: URL(fileURLWithPath: path("received/1-traces.bin")))
        let json = try await OTLPDecodeScript.decode("traces", Array(body))
        let span = try #require(json["resource_spans"]?[0]?["scope_spans"]?[0]?["spans"]?[0])
        #expect(span["name"] == "tls" && span["attributes"]?[0]?["value"]?["string_value"] == "mTLS")
    }
}
