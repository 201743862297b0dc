import Foundation
import IMNCore
import IMNTestSupport
import OTLP
import Testing

/// Our encoder's bytes, read by an independent decoder: the official `opentelemetry-proto`
/// Python package (scripts/otlp/decode.py), with every field checked.
@Suite(.enabled(if: OTLPDecodeScript.available, "python3 with opentelemetry-proto is needed: run scripts/setup"))
struct EncodingTests {
    static let resource = OTLPResource(attributes: [OTLPAttribute("service.name", "imn-test"), OTLPAttribute("host.name", "vm")])
    static let scope = OTLPScope(name: "imn", version: "0.1.0")

    @Test func spansWithEveryFieldAreReadByTheOfficialDecoder() async throws {
        let traceID = TraceID(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C_0D0E_0F10)
        var span = SpanData(
            traceID: traceID, spanID: SpanID(0x1112_1314_1516_1718), parentSpanID: SpanID(0x2122_2324_2526_2728),
            name: "POST /agent/{agent_id}/{module}",
            kind: .server, startTimeUnixNano: 1_795_000_000_000_000_001, endTimeUnixNano: 1_795_000_000_123_456_789)
        span.traceState = "imn=1"
        span.attributes = [
            OTLPAttribute("http.request.method", "POST"), OTLPAttribute("http.response.status_code", 202), OTLPAttribute("ratio", 0.25),
            OTLPAttribute("sampled", true), OTLPAttribute("raw", .bytes([0xDE, 0xAD])),
            OTLPAttribute("list", .array(["a", 1, false])), OTLPAttribute("map", .map([OTLPAttribute("k", "v"), OTLPAttribute("n", -3)])),
        ]
        span.droppedAttributesCount = 2
        span.events = [SpanData.Event(timeUnixNano: 1_795_000_000_000_000_500, name: "accepted", attributes: [OTLPAttribute("agent.id", "agent_1")])]
        span.links = [
            SpanData.Link(traceID: TraceID(high: 7, low: 8), spanID: SpanID(9), traceState: "x=y", attributes: [OTLPAttribute("why", "batch")])
        ]
        span.statusCode = .error
        span.statusMessage = "agent unreachable"
        span.flags = 0x301
        var second = SpanData(
            traceID: traceID, spanID: SpanID(0x3132_3334_3536_3738), name: "publish", kind: .producer, startTimeUnixNano: 5, endTimeUnixNano: 6)
        second.flags = 0x101

        let json = try await OTLPDecodeScript.decode("traces", OTLPEncoder.traces(resource: Self.resource, scope: Self.scope, spans: [span, second]))
        #expect(json["_unknown_fields"]?.arrayValue?.isEmpty == true)
        let resourceSpans = try #require(json["resource_spans"]?[0])
        #expect(resourceSpans["resource"]?["attributes"]?[0]?["key"] == "service.name")
        #expect(resourceSpans["resource"]?["attributes"]?[0]?["value"]?["string_value"] == "imn-test")
        let scopeSpans = try #require(resourceSpans["scope_spans"]?[0])
        #expect(scopeSpans["scope"]?["name"] == "imn")
        #expect(scopeSpans["scope"]?["version"] == "0.1.0")
        let decoded = try #require(scopeSpans["spans"]?[0])
        #expect(decoded["trace_id"] == "0102030405060708090a0b0c0d0e0f10")
        #expect(decoded["span_id"] == "1112131415161718")
        #expect(decoded["parent_span_id"] == "2122232425262728")
        #expect(decoded["trace_state"] == "imn=1")
        #expect(decoded["name"] == "POST /agent/{agent_id}/{module}")
        #expect(decoded["kind"] == 2)
        #expect(decoded["start_time_unix_nano"] == 1_795_000_000_000_000_001)
        #expect(decoded["end_time_unix_nano"] == 1_795_000_000_123_456_789)
        let attributes = decoded["attributes"]?.arrayValue ?? []
        func attribute(_ key: String) -> JSONValue? { attributes.first { $0["key"]?.stringValue == key }?["value"] }
        #expect(attribute("http.request.method")?["string_value"] == "POST")
        #expect(attribute("http.response.status_code")?["int_value"] == 202)
        #expect(attribute("ratio")?["double_value"] == 0.25)
        #expect(attribute("sampled")?["bool_value"] == true)
        #expect(attribute("raw")?["bytes_value"] == "dead")
        #expect(attribute("list")?["array_value"]?["values"]?[0]?["string_value"] == "a")
        #expect(attribute("list")?["array_value"]?["values"]?[1]?["int_value"] == 1)
        #expect(attribute("list")?["array_value"]?["values"]?[2]?["bool_value"] == false)
        #expect(attribute("map")?["kvlist_value"]?["values"]?[1]?["value"]?["int_value"] == -3)
        #expect(decoded["dropped_attributes_count"] == 2)
        #expect(decoded["events"]?[0]?["name"] == "accepted")
        #expect(decoded["events"]?[0]?["time_unix_nano"] == 1_795_000_000_000_000_500)
        #expect(decoded["events"]?[0]?["attributes"]?[0]?["value"]?["string_value"] == "agent_1")
        #expect(decoded["links"]?[0]?["trace_id"] == "00000000000000070000000000000008")
        #expect(decoded["links"]?[0]?["span_id"] == "0000000000000009")
        #expect(decoded["links"]?[0]?["trace_state"] == "x=y")
        #expect(decoded["links"]?[0]?["flags"] == 0x101)
        #expect(decoded["status"]?["code"] == 2)
        #expect(decoded["status"]?["message"] == "agent unreachable")
        #expect(decoded["flags"] == 0x301)
        let plain = try #require(scopeSpans["spans"]?[1])
        #expect(plain["kind"] == 4)
        #expect(plain["parent_span_id"] == nil, "no parent: the field is left out")
        #expect(plain["status"] == nil)

        // And our own decoder reads back exactly what was encoded.
        let roundTrip = try OTLPDecoder.traces(OTLPEncoder.traces(resource: Self.resource, scope: Self.scope, spans: [span, second]))
        #expect(roundTrip.first?.items == [span, second])
        #expect(roundTrip.first?.resource == Self.resource)
    }

    @Test func everyMetricTypeIsReadByTheOfficialDecoder() async throws {
        let metrics = [
            MetricData(
                name: "imn.probe.loss", description: "packet loss", unit: "1",
                data: .gauge([NumberPoint(attributes: [OTLPAttribute("module", "ping_module")], timeUnixNano: 20, value: .double(0.5))])),
            MetricData(
                name: "imn.agent.runs", unit: "{run}",
                data: .sum(
                    [NumberPoint(attributes: [OTLPAttribute("outcome", "completed")], startTimeUnixNano: 10, timeUnixNano: 20, value: .int(42))],
                    temporality: .cumulative, monotonic: true)),
            MetricData(
                name: "imn.probe.rtt", unit: "s",
                data: .histogram(
                    [
                        HistogramPoint(
                            attributes: [OTLPAttribute("family", "ipv4")], startTimeUnixNano: 10, timeUnixNano: 20, count: 6, sum: 0.0123,
                            bucketCounts: [1, 2, 3, 0], explicitBounds: [0.001, 0.002, 0.005], min: 0.0005, max: 0.0049)
                    ], temporality: .cumulative)),
            MetricData(
                name: "imn.nothing",
                data: .histogram(
                    [HistogramPoint(startTimeUnixNano: 0, timeUnixNano: 1, count: 0, sum: nil, bucketCounts: [0], explicitBounds: [])],
                    temporality: .delta)
            ),
        ]
        let bytes = OTLPEncoder.metrics(resource: Self.resource, scope: Self.scope, metrics: metrics)
        let json = try await OTLPDecodeScript.decode("metrics", bytes)
        #expect(json["_unknown_fields"]?.arrayValue?.isEmpty == true)
        let decoded = try #require(json["resource_metrics"]?[0]?["scope_metrics"]?[0]?["metrics"]?.arrayValue)
        #expect(decoded.count == 4)
        #expect(decoded[0]["name"] == "imn.probe.loss")
        #expect(decoded[0]["description"] == "packet loss")
        #expect(decoded[0]["unit"] == "1")
        #expect(decoded[0]["gauge"]?["data_points"]?[0]?["as_double"] == 0.5)
        #expect(decoded[0]["gauge"]?["data_points"]?[0]?["time_unix_nano"] == 20)
        #expect(decoded[0]["gauge"]?["data_points"]?[0]?["attributes"]?[0]?["value"]?["string_value"] == "ping_module")
        #expect(decoded[1]["sum"]?["aggregation_temporality"] == 2)
        #expect(decoded[1]["sum"]?["is_monotonic"] == true)
        #expect(decoded[1]["sum"]?["data_points"]?[0]?["as_int"] == 42)
        #expect(decoded[1]["sum"]?["data_points"]?[0]?["start_time_unix_nano"] == 10)
        let histogram = try #require(decoded[2]["histogram"])
        #expect(histogram["aggregation_temporality"] == 2)
        let point = try #require(histogram["data_points"]?[0])
        #expect(point["count"] == 6)
        #expect(point["sum"] == 0.0123)
        #expect(point["bucket_counts"] == [1, 2, 3, 0])
        #expect(point["explicit_bounds"] == [0.001, 0.002, 0.005])
        #expect(point["min"] == 0.0005)
        #expect(point["max"] == 0.0049)
        #expect(point["exemplars"] == nil, "no exemplars")
        let empty = try #require(decoded[3]["histogram"]?["data_points"]?[0])
        #expect(empty["sum"] == nil && empty["min"] == nil && empty["max"] == nil, "absent optional fields stay absent")
        #expect(decoded[3]["histogram"]?["aggregation_temporality"] == 1)
        #expect(try OTLPDecoder.metrics(bytes).first?.items == metrics)
    }

    @Test func logsAreReadByTheOfficialDecoder() async throws {
        var record = LogData(
            timeUnixNano: 100, observedTimeUnixNano: 101, severityNumber: 17, severityText: "ERROR", body: "ingestion failed",
            attributes: [OTLPAttribute("request.id", "r-1")], traceID: TraceID(high: 1, low: 2), spanID: SpanID(3))
        record.flags = 1
        record.eventName = "imn.ingestion.failed"
        let plain = LogData(timeUnixNano: 0, observedTimeUnixNano: 5, severityNumber: 9, severityText: "INFO", body: .map([OTLPAttribute("a", 1)]))
        let bytes = OTLPEncoder.logs(resource: Self.resource, scope: Self.scope, logs: [record, plain])
        let json = try await OTLPDecodeScript.decode("logs", bytes)
        #expect(json["_unknown_fields"]?.arrayValue?.isEmpty == true)
        let decoded = try #require(json["resource_logs"]?[0]?["scope_logs"]?[0]?["log_records"]?.arrayValue)
        #expect(decoded[0]["time_unix_nano"] == 100)
        #expect(decoded[0]["observed_time_unix_nano"] == 101)
        #expect(decoded[0]["severity_number"] == 17)
        #expect(decoded[0]["severity_text"] == "ERROR")
        #expect(decoded[0]["body"]?["string_value"] == "ingestion failed")
        #expect(decoded[0]["attributes"]?[0]?["key"] == "request.id")
        #expect(decoded[0]["trace_id"] == "00000000000000010000000000000002")
        #expect(decoded[0]["span_id"] == "0000000000000003")
        #expect(decoded[0]["flags"] == 1)
        #expect(decoded[0]["event_name"] == "imn.ingestion.failed")
        #expect(decoded[1]["trace_id"] == nil)
        #expect(decoded[1]["body"]?["kvlist_value"]?["values"]?[0]?["value"]?["int_value"] == 1)
        #expect(try OTLPDecoder.logs(bytes).first?.items == [record, plain])
    }
}

/// Runs scripts/otlp/decode.py.
enum OTLPDecodeScript {
    static let script = Repository.path("scripts/otlp/decode.py").path

    static let python: String? = ServerBinaries.find("python3")

    static let available: Bool = {
        guard let python else { return false }
        return (try? runProgram(python, ["-c", "import opentelemetry.proto.collector.trace.v1.trace_service_pb2"]).status) == 0
    }()

    /// Off the cooperative pool: it waits for a child process.
    static func decode(_ kind: String, _ bytes: [UInt8]) async throws -> JSONValue {
        try await offload { try decodeBlocking(kind, bytes) }
    }

    static func decodeBlocking(_ kind: String, _ bytes: [UInt8]) throws -> JSONValue {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("imn-otlp-\(UUID().uuidString).bin")
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let (status, output) = try runProgram(python ?? "python3", [script, kind, file.path])
        guard status == 0, let json = JSONValue(parsing: Array(output.utf8)) else {
            throw OTLPDecodingError(description: "decode.py failed (\(status)): \(output)")
        }
        return json
    }
}
