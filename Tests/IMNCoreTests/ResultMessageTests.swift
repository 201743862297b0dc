import Foundation
import Testing

@testable import IMNCore

/// The agent writes result messages with `jsonBytes`; the server reads them with `init(json:)`,
/// which must read what `JSONDecoder` reads.
struct ResultMessageTests {
    @Test func jsonBytesAreWhatJSONEncoderWritesAndDecodeBack() throws {
        var done = ResultMessage(
            requestID: "r-1", agentID: "agent_1", module: "echo_module", moduleVersion: "1.0.0", state: "completed",
            atMilliseconds: 1_796_625_697_123, agentStartedAtMilliseconds: 1_796_625_000_000, agentVersion: "0.1.0")
        done.startedAtMilliseconds = 1_796_625_697_100
        done.finishedAtMilliseconds = 1_796_625_697_120
        done.output = ["message": "a/b \"quoted\" é", "rtts": [0.25, 1e-3, 12], "ok": true, "nothing": .null]
        var failed = ResultMessage(
            requestID: "r-2", agentID: "agent_1", module: "ping_module", moduleVersion: "1.2.0", state: "failed", atMilliseconds: 5,
            agentStartedAtMilliseconds: 1, agentVersion: "0.1.0")
        failed.error = "timed out after 10 seconds\n(line two)"
        let started = ResultMessage(
            requestID: "r-3", agentID: "agent_2", module: "echo_module", moduleVersion: "1.0.0", state: "started", atMilliseconds: 7,
            agentStartedAtMilliseconds: 1, agentVersion: "0.1.0")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for message in [done, failed, started] {
            #expect(try JSONDecoder().decode(ResultMessage.self, from: Data(message.jsonBytes)) == message)
            #expect(ResultMessage(json: message.jsonBytes) == message)
            #expect(String(decoding: message.jsonBytes, as: UTF8.self) == String(decoding: try encoder.encode(message), as: UTF8.self))
        }
    }

    @Test func initFromJSONRefusesWhatJSONDecoderRefuses() {
        let cases = [
            #"{"request_id":"r","agent_id":"a","module":"m","module_version":"1","state":"completed","at_ms":5,"agent_started_at_ms":1,"agent_version":"v"}"#,
            #"{"request_id":"r","agent_id":"a","module":"m","module_version":"1","state":"completed","at_ms":5.5,"agent_started_at_ms":1,"agent_version":"v"}"#,
            #"{"request_id":"r","agent_id":"a","module":"m","module_version":"1","state":"completed","at_ms":5,"agent_version":"v"}"#,
            #"{"request_id":"r","agent_id":"a","module":"m","module_version":"1","state":"x","at_ms":5,"agent_started_at_ms":1,"agent_version":"v","error":null,"output":null,"started_at_ms":null}"#,
            #"{"request_id":"r","agent_id":"a","module":"m","module_version":"1","state":"x","at_ms":5,"agent_started_at_ms":1,"agent_version":"v","error":3}"#,
            #"{"request_id":7,"agent_id":"a","module":"m","module_version":"1","state":"x","at_ms":5,"agent_started_at_ms":1,"agent_version":"v"}"#,
            #"{"request_id":"r","agent_id":"a","module":"m","module_version":"1","state":"x","at_ms":5,"agent_started_at_ms":1,"agent_version":"v","started_at_ms":"1"}"#,
            "[]", "not json",
        ]
        for text in cases {
            let theirs = try? JSONDecoder().decode(ResultMessage.self, from: Data(text.utf8))
            #expect(ResultMessage(json: Array(text.utf8)) == theirs, "\(text) → \(String(describing: theirs))")
        }
    }
}
