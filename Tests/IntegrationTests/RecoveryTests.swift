import DBOS
import Foundation
import IMNCore
import IMNTestSupport
import Testing

/// Requests that something stopped halfway still end: the deadline fails a request whose run
/// never finishes, and a request created but never sent runs when its key is posted again.
@Suite(.enabled(if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable, "redis-server and nats-server are needed: run scripts/setup"))
struct RecoveryTests {
    @Test func unfinishedRequestIsFailedAtItsDeadline() async throws {
        try await EndToEndTests.withStack(stuckAfter: .seconds(1)) { stack in
            // Runs 8 s: far longer than the 1 s deadline, as a run whose agent died would.
            let posted = try await HTTP.request(
                "POST", port: stack.port, path: "/agent/agent_1/faulty_module", body: #"{"delay":8}"#, headers: ["Idempotency-Key": "slow-one"])
            #expect(posted.status == 202)
            var detail = ""
            let failed = await eventually(timeout: .seconds(7)) {
                guard let state = try? await HTTP.request("GET", port: stack.port, path: "/modules/states/slow-one").json else { return false }
                detail = state["detail"]?.stringValue ?? ""
                return state["state"] == "failed"
            }
            #expect(failed)
            #expect(detail.contains("no result within 1 s"), "\(detail)")
            // The run's late completion does not move a finished request.
            try await Task.sleep(for: .seconds(8))
            let after = try await HTTP.request("GET", port: stack.port, path: "/modules/states/slow-one").json
            #expect(after?["state"] == "failed")
            // A request that finishes in time is not touched by its deadline.
            let quick = try await HTTP.request("POST", port: stack.port, path: "/agent/agent_1/echo_module?wait=10", body: #"{"message":"in time"}"#)
            #expect(quick.json?["state"] == "completed")
            let id = quick.json?["id"]?.stringValue ?? ""
            try await Task.sleep(for: .seconds(2))
            #expect(try await HTTP.request("GET", port: stack.port, path: "/modules/states/\(id)").json?["state"] == "completed")
        }
    }

    /// As if a server died between creating the state and sending the command: the client posts
    /// its key again, the command goes out and the request completes — once.
    @Test func requestCreatedButNeverSentRunsWhenPostedAgain() async throws {
        try await EndToEndTests.withStack { stack in
            // A generous deadline: on a loaded CI machine a first call can wait for the connection.
            let dbos = try DBOSClient(address: stack.dbosAddress, timeout: .seconds(30))
            let connections = Task { try await dbos.run() }
            defer {
                dbos.close()
                connections.cancel()
            }
            var create = Imn_Dbos_V1_SetModuleStateRequest()
            create.requestID = "orphan-1"
            create.agentID = "agent_1"
            create.module = "echo_module"
            create.state = "created"
            create.actor = "a server that died"
            _ = try await dbos.setModuleState(create)

            let again = try await HTTP.request(
                "POST", port: stack.port, path: "/agent/agent_1/echo_module?wait=10", body: #"{"message":"second try"}"#,
                headers: ["Idempotency-Key": "orphan-1"])
            #expect(again.status == 200, "\(again.status) \(again.body.prefix(300))")
            #expect(again.json?["state"] == "completed")
            // Posting it once more changes nothing: no second run.
            let third = try await HTTP.request(
                "POST", port: stack.port, path: "/agent/agent_1/echo_module?wait=10", body: #"{"message":"second try"}"#,
                headers: ["Idempotency-Key": "orphan-1"])
            #expect(third.json?["state"] == "completed")
            let history = try await HTTP.request("GET", port: stack.port, path: "/modules/states/orphan-1").json
            let states = history?["history"]?.arrayValue?.compactMap { $0["to"]?.stringValue } ?? []
            #expect(states == ["created", "started", "running", "completed"], "\(states)")
        }
    }
}
