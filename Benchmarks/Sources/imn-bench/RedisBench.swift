import ArgumentParser
import Foundation
import IMNTestSupport
import RedisClient

struct RedisBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis", abstract: "SET throughput: sequential, pipelined (depth 64), pool of 8; next to redis-benchmark.")

    @Option(help: "SET commands per measurement.") var operations = 200_000
    @Option(help: "redis appendfsync policy for the server under test.") var appendfsync = "everysec"

    func run() async throws {
        let operations = self.operations
        try await withRedisServer(appendfsync: appendfsync) { server in
            print("redis-server on port \(server.port), appendonly yes, appendfsync \(appendfsync)")
            let value = RedisArgument([UInt8](repeating: 0x78, count: 3))  // redis-benchmark's default 3-byte value

            var single = try RedisConfiguration(url: server.redisURL)
            single.poolSize = 1
            let one = RedisClient(configuration: single)
            let sequentialOps = operations / 10
            let sequential = try await rate(sequentialOps) {
                for index in 0..<sequentialOps { try await one.send("SET", RedisArgument("key:\(index % 10000)"), value) }
            }
            let pipelined = try await rate(operations) {
                let depth = 64
                var sent = 0
                while sent < operations {
                    let batch = min(depth, operations - sent)
                    let commands = (0..<batch).map { RedisCommand("SET", RedisArgument("key:\((sent + $0) % 10000)"), value) }
                    _ = try await one.pipeline(commands)
                    sent += batch
                }
            }
            await one.close()

            var pooled = single
            pooled.poolSize = 8
            let pool = RedisClient(configuration: pooled)
            let workers = 32
            let pooledRate = try await rate(operations / 4) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<workers {
                        group.addTask {
                            for index in 0..<(operations / 4 / workers) {
                                try await pool.send("SET", RedisArgument("key:\(worker):\(index % 1000)"), value)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let pooledPipelined = try await rate(operations) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<8 {
                        group.addTask {
                            var sent = 0
                            let share = operations / 8
                            while sent < share {
                                let batch = min(64, share - sent)
                                let commands = (0..<batch).map { RedisCommand("SET", RedisArgument("key:\(worker):\((sent + $0) % 1000)"), value) }
                                _ = try await pool.pipeline(commands)
                                sent += batch
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            await pool.close()

            let reference = Self.redisBenchmark(port: server.port, operations: operations, clients: 1)
            let referenceDefault = Self.redisBenchmark(port: server.port, operations: operations, clients: 50)
            print("RedisClient SET, 1 connection, sequential:     \(format(sequential)) ops/s")
            print("RedisClient SET, 1 connection, pipelined (64): \(format(pipelined)) ops/s")
            print("RedisClient SET, pool of 8, 32 tasks:          \(format(pooledRate)) ops/s")
            print("RedisClient SET, pool of 8, pipelined (64) x8: \(format(pooledPipelined)) ops/s")
            if let reference, let referenceDefault {
                print("redis-benchmark -t set -P 64 -c 1:             \(format(reference)) ops/s")
                print("redis-benchmark -t set -P 64 (50 clients):     \(format(referenceDefault)) ops/s")
                print(String(format: "1 connection pipelined / redis-benchmark -c 1: %.2fx (goal >= 0.5x)", pipelined / reference))
                print(String(format: "pool pipelined / redis-benchmark (50 clients): %.2fx", pooledPipelined / referenceDefault))
            } else {
                print("redis-benchmark not found: install redis-tools for the comparison")
            }
        }
    }

    static func redisBenchmark(port: Int, operations: Int, clients: Int, pipeline: Int = 64) -> Double? {
        guard let executable = ServerBinaries.redisBenchmark else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-p", "\(port)", "-t", "set", "-P", "\(pipeline)", "-c", "\(clients)", "-n", "\(operations)", "-q"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // "SET: 1234567.89 requests per second, p50=…" (the line may carry carriage returns).
        guard let line = output.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).last(where: { $0.hasPrefix("SET:") }) else { return nil }
        return line.split(separator: " ").dropFirst().first.flatMap { Double($0) }
    }
}
