import Foundation
import IMNCore
import IMNTestSupport
import Testing

/// The client commands (`imn agents`, `imn ping`, `imn run`, `imn result`, `imn watch`, `imn
/// schedules`, …) against a real `imn up` stack, as a user runs them: through a pipe (tables
/// without colour, no progress line), with `--json`, and on a terminal (`script` gives them one).
@Suite(
    .enabled(
        if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable && ServerBinaries.imn != nil,
        "redis-server, nats-server and the built imn binary are needed: run scripts/test"))
struct ClientCommandTests {
    static func imn(_ arguments: [String], server: Int, environment: [String: String] = [:]) async throws -> ProgramOutput {
        let imn = ServerBinaries.imn ?? "imn"
        let environment = ["IMN_SERVER": "http://127.0.0.1:\(server)", "NO_COLOR": ""].merging(environment) { $1 }
        return try await offload { try runProgram(imn, arguments, environment: environment) }
    }

    @Test func measuringFromTheCommandLine() async throws {
        try await UpTests.withQuietStack("client") { _, ports in
            let server = ports[4]

            let agents = try await Self.imn(["agents"], server: server)
            #expect(agents.status == 0, "\(agents.standardError)")
            #expect(agents.standardOutput.contains("agent_1  yes    Berlin, DE, AS3320"), "\(agents.standardOutput)")
            #expect(agents.standardOutput.contains("agent_2  yes    Ashburn, US, AS16509"))
            #expect(!agents.standardOutput.contains("\u{1B}"), "no colour through a pipe")
            let filtered = try await Self.imn(["agents", "--country", "US", "--json"], server: server)
            #expect(JSONValue(parsing: Array(filtered.standardOutput.utf8))?.arrayValue?.compactMap { $0["agent_id"]?.stringValue } == ["agent_2"])

            // One ping from each country: a row per agent, then the summary.
            let ping = try await Self.imn(["ping", "127.0.0.1", "count=2", "interval=0.05", "--from", "DE,US"], server: server)
            #expect(ping.status == 0, "\(ping.standardError)")
            let lines = ping.standardOutput.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("ping_module 127.0.0.1 — ") == true && lines.first?.hasSuffix(", finished") == true, "\(lines)")
            #expect(lines.count == 5, "\(lines)")
            #expect(lines[1].hasPrefix("AGENT    LOCATION              STATE      MIN ms  AVG ms  MAX ms  LOSS"))
            #expect(lines.contains { $0.hasPrefix("agent_1  Berlin, DE, AS3320    completed") && $0.hasSuffix("0.0%") })
            #expect(lines.contains { $0.hasPrefix("agent_2  Ashburn, US, AS16509  completed") })
            #expect(lines.last?.hasPrefix("2 runs: 2 completed; RTT min") == true)
            #expect(ping.standardError.isEmpty, "no progress line without a terminal: \(ping.standardError)")

            // --json is the server's measurement, every run stored with its result.
            let tcping = try await Self.imn(
                ["tcping", "127.0.0.1:\(server)", "count=2", "interval=0.05", "--agent", "agent_2", "--json"], server: server)
            #expect(tcping.status == 0, "\(tcping.standardError)")
            let measurement = JSONValue(parsing: Array(tcping.standardOutput.utf8))
            #expect(measurement?["status"] == "finished")
            #expect(measurement?["runs"]?[0]?["result"]?["connected"] == 2, "\(tcping.standardOutput)")

            // Accepted without waiting, then read back by id (and followed until it ended).
            let accepted = try await Self.imn(["echo", "hello there", "--agent", "agent_1", "--no-wait", "--json"], server: server)
            let id = try #require(JSONValue(parsing: Array(accepted.standardOutput.utf8))?["id"]?.stringValue, "\(accepted.standardOutput)")
            let result = try await Self.imn(["result", id, "--wait", "10"], server: server)
            #expect(result.status == 0, "\(result.standardError)")
            #expect(result.standardOutput.contains("agent_1  Berlin, DE, AS3320  completed  hello there"), "\(result.standardOutput)")
            // A run started by POST /agent/{agent}/{module} is found by its request id.
            let single = try await HTTP.request("POST", port: server, path: "/agent/agent_2/echo_module?wait=10", body: #"{"message":"single"}"#)
            let request = try #require(single.json?["id"]?.stringValue, "\(single.body)")
            let byRequest = try await Self.imn(["result", request], server: server)
            #expect(byRequest.status == 0, "\(byRequest.standardError)")
            #expect(byRequest.standardOutput.contains("agent_2  Ashburn, US, AS16509  completed  single"), "\(byRequest.standardOutput)")

            // Any module through `imn run`, values typed by its input schema.
            let run = try await Self.imn(["run", "ping_module", "host=127.0.0.1", "count=1", "--from", "US", "--json"], server: server)
            #expect(JSONValue(parsing: Array(run.standardOutput.utf8))?["input"]?["count"] == 1, "\(run.standardOutput)")
            let list = try await Self.imn(["measurements"], server: server)
            #expect(list.standardOutput.split(separator: "\n").count >= 5, "\(list.standardOutput)")
        }
    }

    @Test func exitStatusesSayWhatHappened() async throws {
        try await UpTests.withQuietStack("client-exit") { _, ports in
            let server = ports[4]
            let usage = try await Self.imn(["ping", "127.0.0.1", "count=lots"], server: server)
            #expect(usage.status == 2)
            #expect(usage.standardError == "imn: count takes an integer, not \"lots\"\n")
            let parse = try await Self.imn(["ping"], server: server)
            #expect(parse.status == 2, "\(parse.standardError)")
            #expect(parse.standardError.contains("Missing expected argument '<target>'"))

            let refused = try await Self.imn(["ping", "127.0.0.1", "--from", "FR"], server: server)
            #expect(refused.status == 4)
            #expect(refused.standardError.contains("422 Invalid measurement"), "\(refused.standardError)")
            #expect(refused.standardError.contains("/locations/0: no alive agent with module ping_module matches country=FR"))

            let closed = FreePort.next()
            let unreachable = try await Self.imn(["agents"], server: server, environment: ["IMN_SERVER": "http://127.0.0.1:\(closed)"])
            #expect(unreachable.status == 3)
            #expect(unreachable.standardError.hasPrefix("imn: cannot reach http://127.0.0.1:\(closed):"), "\(unreachable.standardError)")

            // A run that ends in error: exit 1, the error in its row.
            let dns = try await Self.imn(["dns", "example.com", "resolver=127.0.0.1:\(closed)", "--agent", "agent_1"], server: server)
            #expect(dns.status == 1, "\(dns.standardOutput)\(dns.standardError)")
            #expect(dns.standardOutput.contains("agent_1  Berlin, DE, AS3320  error"), "\(dns.standardOutput)")
        }
    }

    @Test func onATerminalWatchingAndScheduling() async throws {
        try await UpTests.withQuietStack("client-tty") { _, ports in
            let server = ports[4]
            let imn = ServerBinaries.imn ?? "imn"
            // `script` runs the command on a pseudo-terminal: colours and the progress line appear.
            let terminal = try await offload {
                try runProgram(
                    "/usr/bin/script", ["-qec", "\(imn) ping 127.0.0.1 count=3 interval=0.2 --agent agent_1", "/dev/null"],
                    environment: ["IMN_SERVER": "http://127.0.0.1:\(server)", "NO_COLOR": ""])
            }
            #expect(terminal.status == 0, "\(terminal.standardOutput)")
            #expect(terminal.standardOutput.contains("\u{1B}[32mcompleted"), "\(terminal.standardOutput)")
            #expect(terminal.standardOutput.contains("\r\u{1B}[2K0 of 1 run done"), "the progress line: \(terminal.standardOutput)")
            let plain = try await offload {
                try runProgram(
                    "/usr/bin/script", ["-qec", "\(imn) agents", "/dev/null"],
                    environment: ["IMN_SERVER": "http://127.0.0.1:\(server)", "NO_COLOR": "1"])
            }
            #expect(!plain.standardOutput.contains("\u{1B}["), "NO_COLOR: \(plain.standardOutput)")

            // watch: JSON lines of the live stream, stopped after --count events.
            let watching = Task { try await Self.imn(["watch", "--kind", "result", "--count", "1", "--for", "30", "--json"], server: server) }
            // Echoes until the stream (subscribed at some point after the start) has shown one.
            let echoes = Task {
                for _ in 0..<20 where !Task.isCancelled {
                    _ = try? await HTTP.request("POST", port: server, path: "/agent/agent_2/echo_module?wait=5", body: #"{"message":"watched"}"#)
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
            let watched = try await watching.value
            echoes.cancel()
            #expect(watched.status == 0, "\(watched.standardError)")
            let event = JSONValue(parsing: Array(watched.standardOutput.utf8))
            #expect(event?["kind"] == "result" && event?["output"]?["message"] == "watched", "\(watched.standardOutput)")

            let added = try await Self.imn(
                ["schedules", "add", "echo_module", "message=tick", "--every", "3600", "--agent", "agent_1", "--json"], server: server)
            let schedule = try #require(JSONValue(parsing: Array(added.standardOutput.utf8))?["id"]?.stringValue, "\(added.standardOutput)")
            let listed = try await Self.imn(["schedules"], server: server)
            #expect(listed.standardOutput.contains("\(schedule)  echo_module  3600 s  agent_1  active"), "\(listed.standardOutput)")
            let removed = try await Self.imn(["schedules", "rm", schedule], server: server)
            #expect(removed.status == 0 && removed.standardOutput == "removed \(schedule)\n", "\(removed.standardError)")
            #expect(try await Self.imn(["schedules"], server: server).standardOutput == "no schedules\n")
        }
    }
}
