import Agent
import Foundation
import IMNCore
import IMNTestSupport
import NATSClient
import Server
import Testing

/// The server's routes beyond a single measurement: schedules, module control, states, readiness,
/// metrics, the OpenAPI document, and the edges of POST (413, 409 for a silent agent, untracked).
@Suite(.enabled(if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable, "redis-server and nats-server are needed: run scripts/setup"))
struct ServerAPITests {
    @Test func schedulesControlStatesAndOperationalRoutes() async throws {
        try await EndToEndTests.withStack { stack in
            let port = stack.port
            // A schedule every second for agent_1, ended after three runs.
            let created = try await HTTP.retryingTimeouts(
                "POST", port: port, path: "/schedules",
                body: #"{"id":"every-second","agents":["agent_1"],"module":"echo_module","input":{"message":"tick"},"interval_seconds":1}"#)
            #expect(created.status == 201, "\(created.body)")
            #expect(created.json?["id"] == "sch_every-second")
            #expect(created.json?["state"] == "active")
            let again = try await HTTP.request(
                "POST", port: port, path: "/schedules",
                body: #"{"id":"every-second","agents":["agent_1"],"module":"echo_module","input":{"message":"tick"},"interval_seconds":1}"#)
            #expect(again.status == 200, "the same id is the same schedule")
            #expect(
                await eventually(timeout: .seconds(10)) {
                    let runs = try? await HTTP.request("GET", port: port, path: "/modules/states?module=echo_module&state=completed&limit=100")
                    let ids = runs?.json?["states"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                    return ids.filter { $0.hasPrefix("sch_every-second-") }.count >= 3
                })
            #expect(try await HTTP.request("GET", port: port, path: "/schedules").json?["schedules"]?.arrayValue?.count == 1)
            #expect(try await HTTP.request("DELETE", port: port, path: "/schedules/sch_every-second").status == 204)
            #expect(try await HTTP.request("GET", port: port, path: "/schedules/sch_every-second").status == 404)
            #expect(try await HTTP.request("DELETE", port: port, path: "/schedules/sch_nothing").status == 404)
            let bad = try await HTTP.request(
                "POST", port: port, path: "/schedules", body: #"{"agents":[],"module":"echo_module","cron":"x","interval_seconds":0.1,"color":1}"#)
            #expect(bad.status == 422)
            #expect(
                Set(bad.json?["errors"]?.arrayValue?.compactMap { $0["pointer"]?.stringValue } ?? []) == ["/agents", "/cron", "/color"], "\(bad.body)"
            )
            let badInput = try await HTTP.request(
                "POST", port: port, path: "/schedules", body: #"{"agent_id":"agent_1","module":"echo_module","input":{},"interval_seconds":5}"#)
            #expect(badInput.status == 422)
            #expect(
                try await HTTP.request(
                    "POST", port: port, path: "/schedules", body: #"{"agent_id":"agent_9","module":"echo_module","interval_seconds":5}"#
                ).status == 404)

            // Module control over imn.ctl: a disabled module is refused by the agent, then works again.
            let disabled = try await HTTP.request("POST", port: port, path: "/agents/agent_1/modules/echo_module/disable")
            #expect(disabled.status == 200, "\(disabled.body)")
            #expect(try await HTTP.request("POST", port: port, path: "/agent/agent_1/echo_module", body: #"{"message":"x"}"#).status == 409)
            #expect(try await HTTP.request("POST", port: port, path: "/agents/agent_1/modules/echo_module/enable").status == 200)
            #expect(try await HTTP.request("POST", port: port, path: "/agent/agent_1/echo_module?wait=10", body: #"{"message":"x"}"#).status == 200)
            #expect(try await HTTP.request("POST", port: port, path: "/agents/agent_1/modules/echo_module/explode").status == 404)
            #expect(try await HTTP.request("POST", port: port, path: "/agents/agent_1/modules/nothing/reload").status == 404)
            #expect(try await HTTP.request("POST", port: port, path: "/agents/agent_1/modules/echo_module/reload").status == 200)

            // Untracked: answered at once; the run still reaches DBOS through ingestion.
            let untracked = try await HTTP.request(
                "POST", port: port, path: "/agent/agent_1/echo_module?untracked=true", body: #"{"message":"fire"}"#,
                headers: ["Idempotency-Key": "fire-1"])
            #expect(untracked.status == 202)
            #expect(untracked.json?["untracked"] == true)
            #expect(await eventually { (try? await HTTP.request("GET", port: port, path: "/agents/agent_1/results/fire-1"))?.status == 200 })
            // The body's id is the request id.
            let bodyID = try await HTTP.request(
                "POST", port: port, path: "/agent/agent_1/echo_module?wait=10", body: #"{"id":"from-body","message":"b"}"#)
            #expect(bodyID.json?["id"] == "from-body")
            #expect(bodyID.json?["result"]?["message"] == "b")

            // States, filtered.
            let failed = try await HTTP.request("GET", port: port, path: "/modules/states?state=failed")
            #expect(failed.status == 200)
            #expect(try await HTTP.request("GET", port: port, path: "/modules/states?state=sleeping").status == 400)
            #expect(try await HTTP.request("GET", port: port, path: "/modules/states/nothing-here").status == 404)

            // 413 over 1 MiB; a bad wait is 400.
            let huge = "{\"message\":\"" + String(repeating: "a", count: (1 << 20) + 10) + "\"}"
            let tooLarge = try await HTTP.request("POST", port: port, path: "/agent/agent_1/echo_module", body: huge)
            #expect(tooLarge.status == 413, "\(tooLarge.status) \(tooLarge.body.prefix(300))")
            #expect(try await HTTP.request("POST", port: port, path: "/agent/agent_1/echo_module?wait=soon", body: "{}").status == 400)
            // Inputs nest at most 32 levels; 600 levels are not JSON the parser takes. Both 400.
            for levels in [33, 600] {
                let nested = String(repeating: "[", count: levels - 1) + String(repeating: "]", count: levels - 1)
                let deep = "{\"message\":\"x\",\"extra\":" + nested + "}"
                let refused = try await HTTP.request("POST", port: port, path: "/agent/agent_1/echo_module", body: deep)
                #expect(refused.status == 400, "\(levels) levels: \(refused.status) \(refused.body.prefix(200))")
            }

            // Paging and filters as /openapi.json says (found by scripts/fuzz): limit 0–1000, times up to
            // year 9999, an empty range is an empty page, an empty state filter is no state, a
            // cursor whose member starts with a combining mark still splits at its colon.
            #expect(try await HTTP.request("GET", port: port, path: "/events?limit=1001").status == 400)
            #expect(try await HTTP.request("GET", port: port, path: "/modules/states?limit=0").status == 200)
            #expect(try await HTTP.request("GET", port: port, path: "/agents/agent_1/results?until=253402300800000").status == 400)
            let empty = try await HTTP.request("GET", port: port, path: "/agents/agent_1/results?since=2000&until=1000")
            #expect(empty.status == 200 && empty.json?["results"] == [])
            #expect(try await HTTP.request("GET", port: port, path: "/modules/states?state=").status == 400)
            #expect(try await HTTP.request("GET", port: port, path: "/modules/states?cursor=2628%3A%F0%9F%8F%BB").status == 200)
            #expect(try await HTTP.request("GET", port: port, path: "/modules/states/" + String(repeating: "x", count: 300)).status == 404)

            // A method a served path does not offer is 405 with Allow; an unknown path stays 404.
            let trace = try await HTTP.request("TRACE", port: port, path: "/agents")
            #expect(trace.status == 405)
            #expect(trace.headers.lowercased().contains("allow: get\r\n"), "\(trace.headers)")
            let put = try await HTTP.request("PUT", port: port, path: "/agents/agent_1/results/some-id", body: "{}")
            #expect(put.status == 405)
            #expect(put.body.contains("DELETE, GET"))
            #expect(try await HTTP.request("PUT", port: port, path: "/nowhere").status == 404)

            // Operational routes.
            #expect(try await HTTP.request("GET", port: port, path: "/health").status == 200)
            let ready = try await HTTP.request("GET", port: port, path: "/ready")
            #expect(ready.status == 200)
            #expect(ready.json?["ready"] == true)
            let metrics = try await HTTP.request("GET", port: port, path: "/metrics")
            #expect(metrics.body.contains(#"imn_server_http_requests_total{route="/agent/{agent_id}/{module}",method="POST",status="200"}"#))
            #expect(metrics.body.contains("imn_server_ingestion_lag_seconds_count"))
            #expect(metrics.body.contains(#"imn_server_agents{alive="true"} 1"#))
            let docs = try await HTTP.request("GET", port: port, path: "/docs")
            #expect(docs.status == 200 && docs.body.contains("/openapi.json"))
        }
    }

    @Test func silentAgentIsRefusedAfterTheTimeoutAndRestartKeepsTheRegistry() async throws {
        try await EndToEndTests.withStack(heartbeatTimeout: .milliseconds(1500)) { stack in
            let state = FileManager.default.temporaryDirectory.appendingPathComponent("imn-e2e-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: state) }
            var configuration = AgentConfiguration(name: "agent_2", stateDirectory: state)
            configuration.targetPolicy = .anything
            configuration.id = "agent_2"
            configuration.nats = NATSConfiguration(url: stack.natsURL)
            configuration.heartbeatInterval = .milliseconds(300)
            let agent = try AgentRuntime(configuration: configuration, modules: ModuleHost(BuiltInModules.all()), metrics: AgentMetrics())
            let running = Task { try await agent.run() }
            #expect(await eventually { (try? await HTTP.request("GET", port: stack.port, path: "/agents/agent_2"))?.json?["alive"] == true })
            let before = try await HTTP.request(
                "POST", port: stack.port, path: "/agent/agent_2/echo_module?wait=10", body: #"{"message":"x"}"#,
                headers: ["Idempotency-Key": "before-stop"])
            #expect(before.status == 200)
            running.cancel()
            _ = await running.result
            #expect(await eventually { (try? await HTTP.request("GET", port: stack.port, path: "/agents/agent_2"))?.json?["alive"] == false })
            let refused = try await HTTP.request("POST", port: stack.port, path: "/agent/agent_2/echo_module", body: #"{"message":"x"}"#)
            #expect(refused.status == 409)
            // The same key as before the agent went silent is still the same, finished request.
            let replay = try await HTTP.request(
                "POST", port: stack.port, path: "/agent/agent_2/echo_module?wait=10", body: #"{"message":"x"}"#,
                headers: ["Idempotency-Key": "before-stop"])
            #expect(replay.status == 200)
            #expect(replay.json?["state"] == "completed")
            #expect(try await HTTP.request("GET", port: stack.port, path: "/agents/dead").json?.arrayValue?.first?["agent_id"] == "agent_2")

            // A second server on the same DBOS knows both agents before hearing any heartbeat. (DBOS
            // records a heartbeat a little after the first server hears it; under load, the margin
            // keeps agent_2's DBOS time older than the timeout too.)
            try await Task.sleep(for: .seconds(1.5))
            var second = stack.server.configuration
            second.port = FreePort.next()
            second.serverID = "e2e-second"
            second.nats = NATSConfiguration(url: "nats://127.0.0.1:1")  // hears nothing
            let port = ListeningPort()
            let other = IMNServer(configuration: second) { port.set($0) }
            let task = Task { try await other.run() }
            try await EndToEndTests.finally(stopping: task) {
                #expect(await eventually { port.value != 0 })
                #expect(
                    await eventually {
                        let agents = try? await HTTP.request("GET", port: port.value, path: "/agents")
                        return Set(agents?.json?.arrayValue?.compactMap { $0["agent_id"]?.stringValue } ?? []) == ["agent_1", "agent_2"]
                    })
                let dead = try await HTTP.request("GET", port: port.value, path: "/agents/dead")
                #expect(dead.json?.arrayValue?.compactMap { $0["agent_id"]?.stringValue } == ["agent_2"])
                let ready = try await HTTP.request("GET", port: port.value, path: "/ready")
                #expect(ready.status == 503, "NATS is unreachable for this one")
                #expect(ready.json?["nats"] == false)
            }
        }
    }

    /// Every route the router serves is in /openapi.json and nothing else is; an independent
    /// validator (openapi-spec-validator, PyPI) accepts the document as OpenAPI 3.1.
    @Test(.enabled(if: ServerBinaries.openAPIValidator != nil, "openapi-spec-validator is needed: run scripts/setup"))
    func openAPIDocumentListsEveryRouteAndIsValid() async throws {
        try await EndToEndTests.withStack { stack in
            let reply = try await HTTP.request("GET", port: stack.port, path: "/openapi.json")
            #expect(reply.status == 200)
            let document = try #require(reply.json)
            #expect(document["openapi"] == "3.1.0")
            for module in ["http", "dns", "traceroute", "mtr", "ping_module"] {
                #expect(document["components"]?["schemas"]?["module.\(module).input"]?["properties"] != nil, "\(module)'s input schema")
            }
            #expect(document["components"]?["schemas"]?["module.traceroute.output"] != nil)
            var documented: Set<String> = []
            for (path, item) in document["paths"]?.objectValue ?? [:] {
                for method in item.objectValue?.keys ?? [:].keys { documented.insert("\(method.uppercased()) \(path)") }
            }
            let served = Set(stack.server.routes.map { "\($0.method) \($0.path)" })
            #expect(served.count >= 20)
            #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented).sorted())")
            #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")

            let file = FileManager.default.temporaryDirectory.appendingPathComponent("imn-openapi-\(UUID().uuidString).json")
            try Data(reply.body.utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let validator = try #require(ServerBinaries.openAPIValidator)
            let (status, output) = try await offload { try runProgram(validator, [file.path]) }
            #expect(status == 0, "openapi-spec-validator: \(output)")
            #expect(output.contains("OK"), "\(output)")
        }
    }
}

/// Bearer tokens with read and write scopes and per-token rate limits, as problem+json.
struct AuthenticationTests {
    static let reader = APIToken(name: "reader", token: "read-token-0123456789", scopes: [.read])
    static let writer = APIToken(name: "writer", token: "write-token-0123456789", scopes: [.read, .write])
    static let limited = APIToken(name: "limited", token: "limited-token-0123456789", scopes: [.read], ratePerSecond: 2)

    @Test func tokensScopesAndRateLimits() async throws {
        try await EndToEndTests.withStack(tokens: [Self.reader, Self.writer, Self.limited]) { stack in
            func call(_ method: String, _ path: String, token: APIToken?, body: String = "") async throws -> HTTP.Reply {
                try await HTTP.request(
                    method, port: stack.port, path: path, body: body, headers: token.map { ["Authorization": "Bearer \($0.token)"] } ?? [:])
            }
            let anonymous = try await call("GET", "/agents", token: nil)
            #expect(anonymous.status == 401)
            #expect(anonymous.headers.lowercased().contains("www-authenticate: bearer"))
            #expect(anonymous.headers.lowercased().contains("application/problem+json"))
            #expect(anonymous.json?["status"] == 401)
            let wrong = try await call("GET", "/agents", token: APIToken(name: "x", token: "not-a-known-token-000", scopes: [.read]))
            #expect(wrong.status == 401)
            #expect(try await call("GET", "/health", token: nil).status == 200, "liveness stays open")
            #expect(try await call("GET", "/metrics", token: nil).status == 200, "Prometheus scrapes without a token")

            #expect(try await call("GET", "/agents", token: Self.reader).status == 200)
            let forbidden = try await call("POST", "/agent/agent_1/echo_module?wait=10", token: Self.reader, body: #"{"message":"x"}"#)
            #expect(forbidden.status == 403)
            #expect(forbidden.json?["detail"]?.stringValue?.contains("write scope") == true)
            let allowed = try await call("POST", "/agent/agent_1/echo_module?wait=10", token: Self.writer, body: #"{"message":"x"}"#)
            #expect(allowed.status == 200, "\(allowed.body)")

            // 2 requests a second, bursts of 2: the third at once is refused with Retry-After.
            var statuses: [Int] = []
            var limitedReply: HTTP.Reply?
            for _ in 0..<4 {
                let reply = try await call("GET", "/agents", token: Self.limited)
                statuses.append(reply.status)
                if reply.status == 429 { limitedReply = reply }
            }
            #expect(statuses.prefix(2) == [200, 200])
            #expect(statuses.contains(429), "\(statuses)")
            #expect(limitedReply?.headers.lowercased().contains("retry-after: 1") == true)
            #expect(limitedReply?.json?["title"] == "Rate limit exceeded")
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await call("GET", "/agents", token: Self.limited).status == 200, "the bucket refills")
            #expect(try await call("GET", "/agents", token: Self.writer).status == 200, "other tokens are not limited")
        }
    }

    @Test func tokensFromTheEnvironmentAndBadOnes() throws {
        let tokens = try APIToken.parse(environment: "ci:abcdefghijklmnop:read+write:5,dash:qrstuvwxyz012345:read")
        #expect(tokens.map(\.name) == ["ci", "dash"])
        #expect(tokens[0].scopes == [.read, .write])
        #expect(tokens[0].ratePerSecond == 5)
        #expect(tokens[1].ratePerSecond == nil)
        #expect(throws: APITokenError.self) { try APIToken.parse(environment: "short:abc:read") }
        #expect(throws: APITokenError.self) { try APIToken.parse(environment: "x:abcdefghijklmnop:admin") }
        #expect(throws: APITokenError.self) { try APIToken.parse(environment: "x:abcdefghijklmnop:read:-1") }
    }
}
