import ArgumentParser
import DBOS
import IMNTestSupport
import RedisClient

/// The store alone (no gRPC), to see where a DBOS call's time goes.
struct StoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store", abstract: "DBOSStore.storeResult in-process, without gRPC.")

    @Option var operations = 20_000

    func run() async throws {
        let operations = self.operations
        try await withRedisServer(appendfsync: "everysec") { redis in
            var configuration = try RedisConfiguration(url: redis.redisURL)
            configuration.poolSize = 8
            let client = RedisClient(configuration: configuration)
            let store = DBOSStore(redis: client)
            for concurrency in [1, 16] {
                let count = concurrency == 1 ? operations / 4 : operations
                let perSecond = try await rate(count) {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for worker in 0..<concurrency {
                            group.addTask {
                                var index = worker
                                while index < count {
                                    _ = try await store.storeResult(
                                        StoredResult(
                                            requestID: "s\(concurrency)-\(index)", agentID: "a", module: "m", status: .completed, payload: [1]))
                                    index += concurrency
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                }
                print("DBOSStore.storeResult in-process, \(concurrency) task(s): \(format(perSecond)) calls/s")
            }
            await client.close()
        }
    }
}
