import ArgumentParser
import Foundation
import IMNCore
import IMNTestSupport

/// Trigger → result latency through the whole system: `imn dbos`, `imn server` and `imn agent`
/// as their own (release) processes with real redis-server and nats-server.
struct ServerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract:
            "POST /agent/agent_1/echo_module?wait latency (sequential, at a fixed rate), the sustained rate of 16 clients with every result stored, and CPU per run by process."
    )

    @Option(help: "Sequential requests.") var sequential = 1000
    @Option(help: "Requests per second of the fixed-rate run.") var rate = 200
    @Option(help: "Seconds of the fixed-rate run.") var seconds = 10
    @Option(help: "Requests of the sustained run.") var sustained = 10_000
    @Option(help: "Clients of the sustained run, each with its own keep-alive connection.") var clients = 16
    @Option(help: "Redis appendfsync policy: always (what scripts/up uses) or everysec.") var appendfsync = "always"
    @Option(help: "Path of the imn executable (env IMN_BINARY).") var imn: String?

    func run() async throws {
        guard let imn = imn ?? ProcessInfo.processInfo.environment["IMN_BINARY"] else {
            throw ValidationError("give --imn or IMN_BINARY (Benchmarks/run does)")
        }
        try await withRedisServer(appendfsync: appendfsync) { redis in
            try await withNATSServer { nats in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-bench-server-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                let dbosPort = FreePort.next()
                let httpPort = FreePort.next()
                let agentPort = FreePort.next()
                let dbos = IMNProcesses.dbos(port: dbosPort, redisURL: redis.redisURL, directory: directory, imn: imn)
                let server = IMNProcesses.server(
                    port: httpPort, natsURL: nats.natsURL, dbosAddress: "127.0.0.1:\(dbosPort)", directory: directory, imn: imn)
                let agent = IMNProcesses.agent(metricsPort: agentPort, natsURL: nats.natsURL, directory: directory, heartbeatInterval: 0.5, imn: imn)
                // Each process is stopped when the measurement ends, even if it fails.
                try await withServer(dbos) { dbos in
                    try await withServer(server) { server in
                        try await withServer(agent) { agent in
                            let pids: [(name: String, pid: Int32)] = [
                                ("server", server.pid ?? 0), ("dbos", dbos.pid ?? 0), ("agent", agent.pid ?? 0), ("nats", nats.pid ?? 0),
                                ("redis", redis.pid ?? 0), ("clients", getpid()),
                            ]
                            try await measure(httpPort: httpPort, ports: (dbosPort, agentPort, redis.port, nats.port), pids: pids)
                        }
                    }
                }
            }
        }
    }

    func measure(httpPort: Int, ports: (dbos: Int, agent: Int, redis: Int, nats: Int), pids: [(name: String, pid: Int32)]) async throws {
        let (dbosPort, agentPort) = (ports.dbos, ports.agent)
        while (try? await LoopbackHTTP.request("GET", port: httpPort, path: "/agents/agent_1"))?.status != 200 {
            try await Task.sleep(for: .milliseconds(100))
        }
        print(
            "imn dbos :\(dbosPort), imn server :\(httpPort), imn agent :\(agentPort) (release), redis :\(ports.redis) (appendfsync \(appendfsync)), nats :\(ports.nats)"
        )
        print("  clients keep their HTTP connection (one per client); telemetry on, exported to a closed port, as `imn up` without a collector")
        let client = KeepAliveHTTP(port: httpPort)
        // Warm up connections and caches.
        for index in 0..<50 { _ = try await post(client, id: "warm-\(index)", wait: true) }

        var cpu = ProcessCPU(pids)
        var clock = ContinuousClock()
        var start = clock.now
        var samples: [Duration] = []
        for index in 0..<sequential {
            let (latency, status) = try await post(client, id: "seq-\(index)", wait: true)
            guard status == 200 else { throw ValidationError("request \(index) ended with HTTP \(status)") }
            samples.append(latency)
        }
        print(
            "  echo_module ?wait, sequential (\(sequential)): \(summary(samples)) — goal p50 < 3 ms, p99 < 10 ms; before (2026-11-22) p50 13.65 ms, p99 19.39 ms"
        )
        cpu.printTable(runs: sequential, seconds: (clock.now - start).seconds)
        try await printHistory(httpPort, id: "seq-\(sequential / 2)")

        let total = rate * seconds
        let fixed = try await fixedRate(httpPort, total: total, perSecond: rate)
        print(
            "  echo_module ?wait at \(rate)/s for \(seconds) s: \(summary(fixed.samples)), \(fixed.failures) not 200 — before p50 48.04 ms, p99 89.23 ms"
        )

        let storedBefore = await ingested(httpPort)
        cpu.reset()
        clock = ContinuousClock()
        start = clock.now
        let accepted = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for lane in 0..<clients {
                group.addTask {
                    let client = KeepAliveHTTP(port: httpPort)
                    var latencies: [Duration] = []
                    for index in stride(from: lane, to: sustained, by: clients) {
                        let (latency, status) = try await post(client, id: "load-\(index)", wait: false)
                        if status == 202 { latencies.append(latency) }
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: [Duration]()) { $0 += $1 }
        }
        let posted = (clock.now - start).seconds
        print("  POST without wait, \(clients) clients: \(format(Double(accepted.count) / posted)) accepted/s, \(summary(accepted))")
        // Every accepted request must end with a stored result.
        let deadline = clock.now + .seconds(120)
        while await ingested(httpPort) - storedBefore < Double(accepted.count) && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let elapsed = (clock.now - start).seconds
        let stored = Int(await ingested(httpPort) - storedBefore)
        print(
            "  stored: \(stored) of \(accepted.count) accepted, the last \(String(format: "%.1f", elapsed)) s after the first POST: "
                + "\(format(Double(stored) / elapsed)) runs/s with every result stored — goal ≥ 2,000; before 186/s")
        cpu.printTable(runs: stored, seconds: elapsed)
        let counted = try await countStored(httpPort, prefix: "load-")
        print("  result.stored events of the run (each result once): \(counted) of \(accepted.count)")
    }

    /// Runs stored by the ingestion (`imn_server_ingested_total{state="completed"}`).
    func ingested(_ port: Int) async -> Double {
        let text = (try? await LoopbackHTTP.request("GET", port: port, path: "/metrics"))?.body ?? ""
        return text.split(separator: "\n").filter { $0.hasPrefix("imn_server_ingested_total{") && $0.contains("completed") }.compactMap { line in
            line.split(separator: " ").last.flatMap { Double($0) }
        }.reduce(0, +)
    }

    func post(_ client: KeepAliveHTTP, id: String, wait: Bool) async throws -> (Duration, Int) {
        let clock = ContinuousClock()
        let start = clock.now
        let reply = try await client.request(
            "POST", "/agent/agent_1/echo_module" + (wait ? "?wait=10" : ""), body: #"{"message":"bench"}"#, headers: ["Idempotency-Key": id])
        return (clock.now - start, reply.status)
    }

    /// Requests started on a fixed schedule (open loop), each in its own task on a connection of its own.
    func fixedRate(_ port: Int, total: Int, perSecond: Int) async throws -> (samples: [Duration], failures: Int) {
        let clock = ContinuousClock()
        let start = clock.now
        let interval = Duration.nanoseconds(1_000_000_000 / Int64(perSecond))
        return try await withThrowingTaskGroup(of: (Duration, Int).self) { group in
            for index in 0..<total {
                try await clock.sleep(until: start + interval * index)
                group.addTask { try await post(KeepAliveHTTP(port: port), id: "rate-\(index)", wait: true) }
            }
            var samples: [Duration] = []
            var failures = 0
            for try await (latency, status) in group {
                if status == 200 { samples.append(latency) } else { failures += 1 }
            }
            return (samples, failures)
        }
    }

    func countStored(_ port: Int, prefix: String) async throws -> Int {
        var ids: Set<String> = []
        var cursor: String?
        repeat {
            let page = try await LoopbackHTTP.request(
                "GET", port: port, path: "/events?limit=1000" + (cursor.map { "&cursor=\($0)" } ?? ""))
            let json = JSONValue(parsing: Array(page.body.utf8))
            for event in json?["events"]?.arrayValue ?? [] where event["kind"] == "result.stored" {
                if let id = event["subject"]?.stringValue, id.hasPrefix(prefix) { ids.insert(id) }
            }
            cursor = json?["next_cursor"]?.stringValue
        } while cursor != nil
        return ids.count
    }

    /// Where one request's time went: each transition's offset from its creation.
    func printHistory(_ port: Int, id: String) async throws {
        let state = JSONValue(parsing: Array(try await LoopbackHTTP.request("GET", port: port, path: "/modules/states/\(id)").body.utf8))
        let created = state?["created_at_ms"]?.numberValue ?? 0
        let steps = (state?["history"]?.arrayValue ?? []).map { step in
            "\(step["to"]?.stringValue ?? "?") +\(Int((step["at_ms"]?.numberValue ?? 0) - created)) ms"
        }
        print("    one request (\(id)), stored transitions: \(steps.joined(separator: ", "))")
    }

    func summary(_ samples: [Duration]) -> String {
        let (p50, p99) = percentiles(samples)
        return "p50 \(String(format: "%.2f", p50 / 1000)) ms, p99 \(String(format: "%.2f", p99 / 1000)) ms"
    }
}
