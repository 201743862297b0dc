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
            for (tasks, batch) in [(1, 16), (2, 16), (2, 64), (4, 64)] {
                let perSecond = try await rate(operations) {
                    await withTaskGroup(of: Void.self) { group in
                        for worker in 0..<tasks {
                            group.addTask {
                                var index = worker * batch
                                while index < operations {
                                    let items = (index..<min(index + batch, operations)).map { i in
                                        Result<StoredResult, DBOSError>.success(
                                            StoredResult(
                                                requestID: "b\(tasks)-\(batch)-\(i)", agentID: "a", module: "m", status: .completed, payload: [1]))
                                    }
                                    _ = await store.storeResults(items)
                                    index += tasks * batch
                                }
                            }
                        }
                    }
                }
                print("DBOSStore.storeResults in-process, \(tasks) task(s), batches of \(batch): \(format(perSecond)) results/s")
            }
            await client.close()
        }
    }
}
