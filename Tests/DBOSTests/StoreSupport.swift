import DBOS
import IMNTestSupport
import Logging
import RedisClient

/// A DBOSStore over a real redis-server started for the test.
func withStore<T>(
    appendfsync: String = "always", redisArguments: [String] = [], configure: (inout DBOSStoreConfiguration) -> Void = { _ in },
    _ body: (DBOSStore, ServerProcess) async throws -> T
) async throws -> T {
    try await withRedisServer(appendfsync: appendfsync, extraArguments: redisArguments) { server in
        var redisConfiguration = try RedisConfiguration(url: server.redisURL)
        redisConfiguration.poolSize = 8
        redisConfiguration.connectWait = .seconds(10)
        let redis = RedisClient(configuration: redisConfiguration, logger: Logger(label: "test.redis"))
        var configuration = DBOSStoreConfiguration()
        configure(&configuration)
        let store = DBOSStore(redis: redis, configuration: configuration)
        do {
            let result = try await body(store, server)
            await redis.close()
            return result
        } catch {
            await redis.close()
            throw error
        }
    }
}

func result(_ id: String, agent: String = "agent_1", module: String = "ping_module", payload: String = "{}") -> StoredResult {
    StoredResult(requestID: id, agentID: agent, module: module, status: .completed, payload: Array(payload.utf8))
}
