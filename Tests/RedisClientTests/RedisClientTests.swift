import IMNTestSupport
import Logging
import Testing

@testable import RedisClient

/// Against a real redis-server started per test (AOF on, `appendfsync always`).
@Suite(.enabled(if: ServerBinaries.redisAvailable, "redis-server is not installed: run scripts/setup"))
struct RedisClientTests {
    static func withClient<T>(
        _ server: ServerProcess, configure: (inout RedisConfiguration) -> Void = { _ in }, _ body: (RedisClient) async throws -> T
    ) async throws -> T {
        var configuration = try RedisConfiguration(url: server.redisURL)
        configure(&configuration)
        let client = RedisClient(configuration: configuration, logger: Logger(label: "test.redis"))
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    @Test func binaryPayloadsRoundTrip() async throws {
        try await withRedisServer { server in
            try await Self.withClient(server) { client in
                let every = (0...255).map { UInt8($0) }
                let key = RedisArgument([0x00, 0xFF, 0x0D, 0x0A] + Array("key".utf8))
                try await client.send("SET", key, RedisArgument(every + every))
                let reply = try await client.send("GET", key)
                #expect(reply.bytes == every + every)
                #expect(try await client.send("STRLEN", key).integer == 512)
                try await client.send("SET", "empty", RedisArgument([]))
                #expect(try await client.send("GET", "empty") == .string([]))
                #expect(try await client.send("GET", "missing") == .null)
            }
        }
    }

    @Test func pipelinesAThousandCommands() async throws {
        try await withRedisServer { server in
            try await Self.withClient(server) { client in
                let commands = (0..<1000).map { _ in RedisCommand("INCR", "counter") }
                let replies = try await client.pipeline(commands)
                #expect(replies.count == 1000)
                #expect(replies.map(\.integer) == (1...1000).map { Int64($0) })
                let mixed = try await client.pipeline([RedisCommand("SET", "a", "1"), RedisCommand("LPUSH", "a", "x"), RedisCommand("GET", "a")])
                #expect(mixed[0] == .status("OK"))
                guard case .error(let message) = mixed[1] else {
                    Issue.record("expected an error reply, got \(mixed[1])")
                    return
                }
                #expect(message.hasPrefix("WRONGTYPE"))
                #expect(mixed[2].text == "1")
            }
        }
    }

    @Test func serverErrorIsNotAConnectionFailure() async throws {
        try await withRedisServer { server in
            try await Self.withClient(server, configure: { $0.poolSize = 1 }) { client in
                try await client.send("SET", "text", "not a number")
                let error = await #expect(throws: RedisError.self) { try await client.send("INCR", "text") }
                #expect(error?.code == .server)
                #expect(error?.isIndeterminate == false)
                #expect(error?.message.hasPrefix("ERR") == true)
                let unknown = await #expect(throws: RedisError.self) { try await client.send("NOSUCHCOMMAND") }
                #expect(unknown?.code == .server)
                // The same connection carries on.
                #expect(try await client.send("PING") == .status("PONG"))
            }
        }
    }

    @Test func evalshaReloadsAfterScriptFlush() async throws {
        try await withRedisServer { server in
            try await Self.withClient(server) { client in
                let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
                #expect(try await client.evaluate(script, keys: ["n"], arguments: ["5"]).integer == 5)
                let loaded = try await client.send("SCRIPT", "EXISTS", RedisArgument(script.sha1))
                #expect(loaded.array == [.integer(1)])
                try await client.send("SCRIPT", "FLUSH")
                #expect(try await client.evaluate(script, keys: ["n"], arguments: ["2"]).integer == 7)
                let failing = RedisScript("return redis.error_reply('IMN_CONFLICT version 3')")
                let error = await #expect(throws: RedisError.self) { try await client.evaluate(failing) }
                #expect(error?.serverErrorPrefix == "IMN_CONFLICT")
            }
        }
    }

    @Test func authenticatesWithPasswordAndACLUserAndSelects() async throws {
        try await withRedisServer(extraArguments: ["--requirepass", "topsecret"]) { server in
            let open = await #expect(throws: RedisError.self) {
                try await Self.withClient(server) { client in try await client.send("PING") }
            }
            #expect(open?.code == .server)  // NOAUTH
            try await Self.withClient(server, configure: { $0.password = "wrong" }) { client in
                let error = await #expect(throws: RedisError.self) { try await client.send("PING") }
                #expect(error?.code == .authenticationFailed)
                #expect(error?.description.contains("wrong") == false)
            }
            try await Self.withClient(
                server,
                configure: {
                    $0.password = "topsecret"; $0.database = 2
                }
            ) { client in
                try await client.send("ACL", "SETUSER", "imn", "on", ">userpass", "~*", "+@all")
                try await client.send("SET", "where", "db2")
            }
            let url = "redis://imn:userpass@127.0.0.1:\(server.port)/2"
            let client = RedisClient(configuration: try RedisConfiguration(url: url))
            #expect(try await client.send("GET", "where").text == "db2")
            #expect(try await client.send("ACL", "WHOAMI").text == "imn")
            await client.close()
        }
    }

    @Test func commandTimeoutIsIndeterminateAndTheConnectionRecovers() async throws {
        try await withRedisServer { server in
            try await Self.withClient(
                server,
                configure: {
                    $0.poolSize = 1; $0.commandTimeout = .milliseconds(200)
                }
            ) { client in
                let error = await #expect(throws: RedisError.self) { try await client.send("BLPOP", "never", "1") }
                #expect(error?.code == .indeterminate)
                try await Task.sleep(for: .seconds(1))
                #expect(try await client.send("PING") == .status("PONG"))
            }
        }
    }

    @Test func survivesKill9AndRestartWithAcknowledgedDataIntact() async throws {
        try await withRedisServer(appendfsync: "always") { server in
            try await Self.withClient(
                server,
                configure: {
                    $0.poolSize = 2; $0.connectWait = .seconds(10)
                }
            ) { client in
                for index in 0..<200 { try await client.send("SET", RedisArgument("k\(index)"), RedisArgument(index)) }

                // A command in flight when the server dies fails as indeterminate, never as success.
                let connection = client.connection()
                let blocked = Task { try await connection.pipeline([RedisCommand("BLPOP", "never", "0")]) }
                try await Task.sleep(for: .milliseconds(200))
                await server.kill9()
                let inFlight = await #expect(throws: RedisError.self) { try await blocked.value }
                #expect(inFlight?.code == .indeterminate)

                // While the server is down, commands fail without hanging past connectWait.
                var down = try RedisConfiguration(url: server.redisURL)
                down.connectWait = .milliseconds(300)
                let impatient = RedisClient(configuration: down)
                let failure = await #expect(throws: RedisError.self) { try await impatient.send("PING") }
                #expect(failure?.code == .connectionFailed)
                await impatient.close()

                try await server.restart()
                // The client reconnects by itself; the next command succeeds.
                #expect(try await client.send("PING") == .status("PONG"))
                let values = try await client.pipeline((0..<200).map { RedisCommand("GET", RedisArgument("k\($0)")) })
                #expect(values.map(\.integer) == (0..<200).map { Int64($0) })
            }
        }
    }

    @Test func poolSpreadsConcurrentCommands() async throws {
        try await withRedisServer { server in
            try await Self.withClient(server, configure: { $0.poolSize = 8 }) { client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<16 {
                        group.addTask {
                            for index in 0..<100 { try await client.send("SADD", "set", RedisArgument("\(worker)-\(index)")) }
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(try await client.send("SCARD", "set").integer == 1600)
            }
        }
    }
}
