import ArgumentParser
import DBOS
import Foundation
import IMNTestSupport

struct DBOSBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dbos",
        abstract: "StoreResult and SetModuleState per second through gRPC (imn dbos as its own process), next to redis-benchmark SET.")

    @Option(help: "Calls per concurrent measurement.") var operations = 40_000
    @Option(help: "Path of the imn executable (env IMN_BINARY).") var imn: String?
    @Option(help: "Which calls: all, unary, batch (group commit) or stream (StoreResultStream).") var calls = "all"
    @Option(help: "appendfsync policies to measure, comma-separated.") var appendfsync = "everysec,always"

    func run() async throws {
        guard let imn = imn ?? ProcessInfo.processInfo.environment["IMN_BINARY"] else {
            throw ValidationError("give --imn or IMN_BINARY (Benchmarks/run does)")
        }
        guard ["all", "unary", "batch", "stream"].contains(calls) else { throw ValidationError("--calls is all, unary, batch or stream") }
        let unary = calls == "all" || calls == "unary"
        let batch = calls == "all" || calls == "batch"
        let stream = calls == "all" || calls == "stream"
        for policy in appendfsync.split(separator: ",").map(String.init) {
            try await withRedisServer(appendfsync: policy) { redis in
                let port = FreePort.next()
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-bench-dbos-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                let dbos = IMNProcesses.dbos(port: port, redisURL: redis.redisURL, directory: directory, imn: imn)
                // Stopped (and its folder removed) when the measurement ends, even if it fails.
                try await withServer(dbos) { _ in
                    let client = try DBOSClient(address: "127.0.0.1:\(port)")
                    let connections = Task { try await client.run() }
                    defer {
                        client.close()
                        connections.cancel()
                    }
                    print("appendfsync \(policy): imn dbos on :\(port), redis-server on :\(redis.port)")
                    let health = try await measure(count: 2000, concurrency: 1) { _ in
                        _ = try await client.health.check(Grpc_Health_V1_HealthCheckRequest())
                    }
                    print("  Health.Check (no Redis), 1 client: \(health)")
                    for concurrency in [1, 16] {
                        let count = concurrency == 1 ? operations / 8 : operations
                        if stream {
                            let streamed = try await measure(count: count * 4, concurrency: concurrency) { index in
                                _ = try await client.storeResultStreamed(.bench("streamed-\(policy)-\(concurrency)-\(index)"))
                            }
                            print(
                                "  StoreResult over StoreResultStream (the way the server stores results), \(concurrency) client(s): \(streamed)"
                                    + (concurrency == 16 ? " — goal ≥ 20,000/s; before 7,274/s (everysec)" : ""))
                        }
                        if unary {
                            let store = try await measure(count: count, concurrency: concurrency) { index in
                                _ = try await client.storeResult(.bench("store-\(policy)-\(concurrency)-\(index)"))
                            }
                            print("  StoreResult,    \(concurrency) client(s): \(store)")
                            let state = try await measure(count: count, concurrency: concurrency) { index in
                                _ = try await client.setModuleState(.bench("state-\(policy)-\(concurrency)-\(index)"))
                            }
                            print("  SetModuleState, \(concurrency) client(s): \(state)")
                        }
                        guard batch else { continue }
                        let grouped = try await measure(count: count, concurrency: concurrency) { index in
                            _ = try await client.storeResultInBatch(.bench("grouped-\(policy)-\(concurrency)-\(index)"))
                        }
                        print("  StoreResult by group commit (StoreResults),       \(concurrency) client(s): \(grouped)")
                        let groupedStates = try await measure(count: count, concurrency: concurrency) { index in
                            _ = try await client.setModuleStateInBatch(.bench("grouped-state-\(policy)-\(concurrency)-\(index)"))
                        }
                        print("  SetModuleState by group commit (SetModuleStates), \(concurrency) client(s): \(groupedStates)")
                    }
                    if stream {
                        // Past the goal's 16 closed-loop clients: how far the stream goes when callers wait less.
                        let wide = try await measure(count: operations * 4, concurrency: 128) { index in
                            _ = try await client.storeResultStreamed(.bench("streamed-wide-\(policy)-\(index)"))
                        }
                        print(
                            "  StoreResult over StoreResultStream, 128 callers (the ingestion has up to 512 lanes): \(wide) — goal ≥ 20,000/s; before 9,320/s"
                        )
                    }
                    if let reference = RedisBench.redisBenchmark(port: redis.port, operations: operations, clients: 16, pipeline: 1) {
                        print("  redis-benchmark -t set -c 16 (no pipelining): \(format(reference)) ops/s")
                    }
                }
            }
        }
    }

    func measure(count: Int, concurrency: Int, _ call: @escaping @Sendable (Int) async throws -> Void) async throws -> String {
        let clock = ContinuousClock()
        let start = clock.now
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var samples: [Duration] = []
                    var index = worker
                    while index < count {
                        let begin = clock.now
                        try await call(index)
                        samples.append(clock.now - begin)
                        index += concurrency
                    }
                    return samples
                }
            }
            return try await group.reduce(into: [Duration]()) { $0 += $1 }
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let (p50, p99) = percentiles(latencies)
        return
            "\(format(Double(count) / seconds)) calls/s, p50 \(String(format: "%.2f", p50 / 1000)) ms, p99 \(String(format: "%.2f", p99 / 1000)) ms"
    }
}

extension Imn_Dbos_V1_StoreResultRequest {
    static func bench(_ id: String) -> Self {
        var request = Self()
        request.result.requestID = id
        request.result.agentID = "agent_1"
        request.result.module = "ping_module"
        request.result.status = "completed"
        request.result.payload = Data(#"{"rtt_ms":[0.041,0.038,0.044],"loss":0}"#.utf8)
        return request
    }
}

extension Imn_Dbos_V1_SetModuleStateRequest {
    /// Creates the state of request `id`.
    static func bench(_ id: String) -> Self {
        var request = Self()
        request.requestID = id
        request.agentID = "agent_1"
        request.module = "echo_module"
        request.state = "created"
        request.actor = "bench"
        return request
    }
}
