import Foundation
import IMNCore
import IMNTestSupport
import Testing

/// `imn server` as real processes: killed with -9 mid-flight and restarted, and two replicas
/// sharing ingestion and schedules.
@Suite(
    .enabled(
        if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable && ServerBinaries.imn != nil,
        "redis-server, nats-server and the built imn binary are needed: run scripts/test"))
struct ServerProcessTests {
    static func serverProcess(_ name: String, _ backends: EndToEndTests.Backends) throws -> ServerProcess {
        let port = FreePort.next()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return IMNProcesses.server(name: name, port: port, natsURL: backends.natsURL, dbosAddress: backends.dbosAddress, directory: directory)
    }

    static func heardAgent(_ server: ServerProcess) async -> Bool {
        await eventually { (try? await HTTP.request("GET", port: server.port, path: "/agents/agent_1"))?.status == 200 }
    }

    static func state(_ id: String, _ server: ServerProcess) async -> String? {
        (try? await HTTP.request("GET", port: server.port, path: "/modules/states/\(id)"))?.json?["state"]?.stringValue
    }

    /// How many `result.stored` events each request id has in the audit log.
    static func storedCounts(_ server: ServerProcess) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        var cursor: String?
        repeat {
            let page = try await HTTP.request("GET", port: server.port, path: "/events?limit=1000" + (cursor.map { "&cursor=\($0)" } ?? ""))
            for event in page.json?["events"]?.arrayValue ?? [] where event["kind"] == "result.stored" {
                counts[event["subject"]?.stringValue ?? "", default: 0] += 1
            }
            cursor = page.json?["next_cursor"]?.stringValue
        } while cursor != nil
        return counts
    }

    @Test func killedServerLosesNothingInFlight() async throws {
        try await EndToEndTests.withBackends { backends in
            try await withServer(try Self.serverProcess("server-a", backends)) { server in
                #expect(await Self.heardAgent(server))
                var ids: [String] = []
                for index in 0..<10 {
                    let slow = try await HTTP.request(
                        "POST", port: server.port, path: "/agent/agent_1/faulty_module", body: #"{"delay":1.5}"#,
                        headers: ["Idempotency-Key": "slow-\(index)"])
                    let fast = try await HTTP.request(
                        "POST", port: server.port, path: "/agent/agent_1/echo_module", body: #"{"message":"m"}"#,
                        headers: ["Idempotency-Key": "fast-\(index)"])
                    #expect(slow.status == 202 && fast.status == 202, "\(slow.body) \(fast.body)")
                    ids += ["slow-\(index)", "fast-\(index)"]
                }
                await server.kill9()
                // The slow runs end while no server runs; their results wait in JetStream.
                try await Task.sleep(for: .seconds(2))
                try await server.restart()
                // Messages the killed server had fetched but not acknowledged come back after the
                // consumer's ack wait (10 s), so allow for that.
                let deadline = ContinuousClock.now + .seconds(40)
                for id in ids {
                    let left = max(deadline - ContinuousClock.now, .seconds(1))
                    #expect(await eventually(timeout: left) { await Self.state(id, server) == "completed" }, "\(id)")
                }
                let counts = try await Self.storedCounts(server)
                for id in ids { #expect(counts[id] == 1, "\(id) stored \(counts[id] ?? 0) times") }
            }
        }
    }

    @Test func twoReplicasShareIngestionAndRunEachScheduleOnce() async throws {
        try await EndToEndTests.withBackends { backends in
            try await withServer(try Self.serverProcess("server-a", backends)) { first in
                try await withServer(try Self.serverProcess("server-b", backends)) { second in
                    #expect(await Self.heardAgent(first))
                    #expect(await Self.heardAgent(second))
                    // 200 measurements, alternately through each replica, four at a time.
                    let servers = [first, second]
                    let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
                        for lane in 0..<4 {
                            group.addTask {
                                var accepted = 0
                                for index in stride(from: lane, to: 200, by: 4) {
                                    let reply = try await HTTP.request(
                                        "POST", port: servers[index % 2].port, path: "/agent/agent_1/echo_module", body: #"{"message":"r"}"#,
                                        headers: ["Idempotency-Key": "replica-\(index)"])
                                    if reply.status == 202 || reply.status == 200 { accepted += 1 }
                                }
                                return accepted
                            }
                        }
                        return try await group.reduce(0, +)
                    }
                    #expect(accepted == 200)
                    #expect(
                        await eventually(timeout: .seconds(30)) {
                            let counts = (try? await Self.storedCounts(first)) ?? [:]
                            return counts.keys.filter { $0.hasPrefix("replica-") }.count == 200
                        })
                    let counts = try await Self.storedCounts(second)
                    #expect(counts.filter { $0.key.hasPrefix("replica-") && $0.value != 1 }.isEmpty, "every result stored once")

                    // A schedule every 2 s for 20 s: 10 ± 1 runs in all, though both servers run the scheduler.
                    let start = Int64(Date().timeIntervalSince1970 * 1000) + 500
                    let created = try await HTTP.request(
                        "POST", port: first.port, path: "/schedules",
                        body:
                            #"{"id":"shared","agent_id":"agent_1","module":"echo_module","input":{"message":"s"},"interval_seconds":2,"start":\#(start),"end":\#(start + 20_000)}"#
                    )
                    #expect(created.status == 201, "\(created.body)")
                    #expect(try await HTTP.request("GET", port: second.port, path: "/schedules/sch_shared").status == 200)
                    try await Task.sleep(for: .seconds(23))
                    let runs = try await Self.storedCounts(first).filter { $0.key.hasPrefix("sch_shared-") }
                    #expect((9...11).contains(runs.count), "\(runs.count) runs")
                    #expect(runs.values.allSatisfy { $0 == 1 })
                }
            }
        }
    }
}
