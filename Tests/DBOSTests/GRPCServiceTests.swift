import DBOS
import Foundation
import GRPCCore
import IMNTestSupport
import RedisClient
import Testing

/// The gRPC service over a real loopback port, one test per RPC group.
@Suite(.enabled(if: ServerBinaries.redisAvailable, "redis-server is not installed: run scripts/setup"))
struct GRPCServiceTests {
    @Test func agents() async throws {
        try await withRedisServer { redis in
            try await withDBOS(redis: redis) { client, _ in
                var register = Imn_Dbos_V1_RegisterAgentRequest()
                register.id = "agent_1"
                register.info = Data(#"{"name":"agent_1"}"#.utf8)
                let first = try await client.dbos.registerAgent(register, options: client.options(idempotent: true))
                #expect(first.new)
                #expect(try await !client.dbos.registerAgent(register, options: client.options(idempotent: true)).new)
                var get = Imn_Dbos_V1_GetAgentRequest()
                get.id = "agent_1"
                #expect(try await client.dbos.getAgent(get).info == register.info)
                #expect(try await client.dbos.listAgents(Imn_Dbos_V1_ListAgentsRequest()).agents.map(\.id) == ["agent_1"])
                get.id = "nobody"
                #expect(await rpcCode { _ = try await client.dbos.getAgent(get) } == .notFound)
                register.id = ""
                #expect(await rpcCode { _ = try await client.dbos.registerAgent(register) } == .invalidArgument)
                var negative = Imn_Dbos_V1_ListAgentsRequest()
                negative.pageSize = -5
                #expect(await rpcCode { _ = try await client.dbos.listAgents(negative) } == .invalidArgument)
            }
        }
    }

    @Test func moduleStates() async throws {
        try await withRedisServer { redis in
            try await withDBOS(redis: redis) { client, _ in
                let created = try await client.dbos.setModuleState(.make("req-1", "created", version: 0))
                #expect(created.version == 1)
                _ = try await client.dbos.setModuleState(.make("req-1", "started", version: 1))
                // A stale version: ABORTED, with the current state attached.
                do {
                    _ = try await client.dbos.setModuleState(.make("req-1", "running", version: 1))
                    Issue.record("expected ABORTED")
                } catch let error as RPCError {
                    #expect(error.code == .aborted)
                    let current = DBOSClient.currentState(in: error)
                    #expect(current?.state == "started")
                    #expect(current?.version == 2)
                }
                #expect(await rpcCode { _ = try await client.dbos.setModuleState(.make("req-1", "completed", version: 2)) } == .failedPrecondition)
                #expect(await rpcCode { _ = try await client.dbos.setModuleState(.make("req-1", "exploded", version: 2)) } == .invalidArgument)
                #expect(await rpcCode { _ = try await client.dbos.setModuleState(.make("", "created", version: 0)) } == .invalidArgument)
                #expect(await rpcCode { _ = try await client.dbos.setModuleState(.make("ghost", "started", version: 4)) } == .notFound)
                var get = Imn_Dbos_V1_GetModuleStateRequest()
                get.requestID = "req-1"
                get.withHistory = true
                let state = try await client.dbos.getModuleState(get)
                #expect(state.history.map(\.to) == ["created", "started"])
                var list = Imn_Dbos_V1_ListModuleStatesRequest()
                list.state = "started"
                #expect(try await client.dbos.listModuleStates(list).states.map(\.requestID) == ["req-1"])
                list.state = "nonsense"
                #expect(await rpcCode { _ = try await client.dbos.listModuleStates(list) } == .invalidArgument)
            }
        }
    }

    @Test func results() async throws {
        try await withRedisServer { redis in
            try await withDBOS(
                redis: redis,
                configure: {
                    $0.store.maxPayloadBytes = 2048; $0.store.serverID = "dbos-a"
                }
            ) { client, _ in
                let first = try await client.dbos.storeResult(.make("r1", payload: #"{"echo":"hi"}"#), options: client.options(idempotent: true))
                #expect(!first.duplicate)
                #expect(first.result.metadata.dbosServerID == "dbos-a")
                #expect(first.result.metadata.receivedAtMs > 0)
                let second = try await client.dbos.storeResult(.make("r1", payload: #"{"echo":"other"}"#), options: client.options(idempotent: true))
                #expect(second.duplicate)
                #expect(second.result == first.result)
                var get = Imn_Dbos_V1_GetResultRequest()
                get.requestID = "r1"
                #expect(try await client.dbos.getResult(get).payload == Data(#"{"echo":"hi"}"#.utf8))
                var list = Imn_Dbos_V1_ListResultsRequest()
                list.agentID = "agent_1"
                #expect(try await client.dbos.listResults(list).results.count == 1)
                #expect(
                    await rpcCode { _ = try await client.dbos.storeResult(.make("big", payload: String(repeating: "x", count: 4096))) }
                        == .invalidArgument)
                #expect(await rpcCode { _ = try await client.dbos.storeResult(.make("odd", status: "finished")) } == .invalidArgument)
                list.pageSize = -1
                #expect(await rpcCode { _ = try await client.dbos.listResults(list) } == .invalidArgument)
                var delete = Imn_Dbos_V1_DeleteResultRequest()
                delete.requestID = "r1"
                #expect(try await client.dbos.deleteResult(delete).deleted)
                #expect(await rpcCode { _ = try await client.dbos.getResult(get) } == .notFound)
            }
        }
    }

    @Test func tasksAndEvents() async throws {
        try await withRedisServer { redis in
            try await withDBOS(redis: redis) { client, _ in
                var schedule = Imn_Dbos_V1_ScheduleTaskRequest()
                schedule.id = "every-second"
                schedule.kind = "interval"
                schedule.intervalMs = 1000
                schedule.visibilityTimeoutMs = 300
                schedule.maxDeliveries = 2
                schedule.payload = Data(#"{"module":"ping_module"}"#.utf8)
                #expect(try await client.dbos.scheduleTask(schedule).created)
                #expect(try await !client.dbos.scheduleTask(schedule).created)
                var claim = Imn_Dbos_V1_ListDueTasksRequest()
                claim.maxTasks = 5
                claim.worker = "server-1"
                let leased = try #require(try await client.dbos.listDueTasks(claim).tasks.first)
                #expect(leased.deliveries == 1)
                try await Task.sleep(for: .milliseconds(350))
                let again = try #require(try await client.dbos.listDueTasks(claim).tasks.first)
                #expect(again.leaseToken != leased.leaseToken)
                var ack = Imn_Dbos_V1_AckTaskRequest()
                ack.id = "every-second"
                ack.leaseToken = leased.leaseToken
                #expect(await rpcCode { _ = try await client.dbos.ackTask(ack) } == .failedPrecondition)
                ack.leaseToken = again.leaseToken
                let acked = try await client.dbos.ackTask(ack)
                #expect(acked.state == "pending")
                #expect(acked.runs == 1)
                var nack = Imn_Dbos_V1_NackTaskRequest()
                nack.id = "every-second"
                nack.leaseToken = "1-1"
                #expect(await rpcCode { _ = try await client.dbos.nackTask(nack) } == .failedPrecondition)
                schedule.kind = "weekly"
                schedule.id = "bad"
                #expect(await rpcCode { _ = try await client.dbos.scheduleTask(schedule) } == .invalidArgument)
                claim.maxTasks = -1
                #expect(await rpcCode { _ = try await client.dbos.listDueTasks(claim) } == .invalidArgument)
                #expect(try await client.dbos.listDeadLetters(Imn_Dbos_V1_ListDeadLettersRequest()).tasks.isEmpty)
                var task = Imn_Dbos_V1_GetTaskRequest()
                task.id = "every-second"
                #expect(try await client.dbos.getTask(task).kind == "interval")

                let events = try await client.dbos.getEvents(Imn_Dbos_V1_GetEventsRequest())
                #expect(events.events.map(\.kind).starts(with: ["task.scheduled", "task.claimed", "task.requeued", "task.claimed", "task.acked"]))
                var next = Imn_Dbos_V1_GetEventsRequest()
                next.pageSize = 2
                let page = try await client.dbos.getEvents(next)
                #expect(page.events.count == 2)
                next.cursor = page.nextCursor
                #expect(try await client.dbos.getEvents(next).events.first?.kind == "task.requeued")
            }
        }
    }

    /// DBOS as a Redis ACL user that may touch only its own keys (`~imn:*`) and no dangerous
    /// command, the default user switched off: every kind of call works.
    @Test func servesAsARedisACLUserConfinedToItsPrefix() async throws {
        let acl = ["--user", "default", "off", "--user", "dbos", "on", ">dbos-secret", "~imn:*", "+@all", "-@dangerous"]
        try await withRedisServer(extraArguments: acl) { redis in
            let asDBOS = try RedisConfiguration(url: "redis://dbos:dbos-secret@127.0.0.1:\(redis.port)")
            try await withDBOS(redis: redis, configure: { $0.redis = asDBOS }) { client, _ in
                #expect(await eventually { await client.isServing() })
                _ = try await client.dbos.setModuleState(.make("acl-1", "created", version: 0))
                _ = try await client.dbos.setModuleState(.make("acl-1", "started", version: 1))
                _ = try await client.dbos.storeResult(.make("acl-1", payload: #"{"ok":true}"#), options: client.options(idempotent: true))
                var get = Imn_Dbos_V1_GetResultRequest()
                get.requestID = "acl-1"
                #expect(try await client.dbos.getResult(get).payload == Data(#"{"ok":true}"#.utf8))
                var schedule = Imn_Dbos_V1_ScheduleTaskRequest()
                schedule.kind = "once"
                schedule.payload = Data("{}".utf8)
                _ = try await client.dbos.scheduleTask(schedule)
                var due = Imn_Dbos_V1_ListDueTasksRequest()
                due.worker = "w"
                due.maxTasks = 10
                #expect(try await client.dbos.listDueTasks(due).tasks.count == 1)
                #expect(try await client.dbos.getEvents(Imn_Dbos_V1_GetEventsRequest()).events.count >= 3)
            }
        }
        // A wrong password: DBOS runs, reports NOT_SERVING and never serves.
        try await withRedisServer(extraArguments: acl) { redis in
            var wrong = try RedisConfiguration(url: "redis://dbos:wrong@127.0.0.1:\(redis.port)")
            wrong.connectWait = .seconds(1)
            try await withDBOS(redis: redis, configure: { [wrong] in $0.redis = wrong }) { client, _ in
                try await Task.sleep(for: .milliseconds(500))
                #expect(await !client.isServing())
            }
        }
    }

    @Test func healthFollowsRedis() async throws {
        try await withRedisServer { redis in
            try await withDBOS(redis: redis, configure: { $0.redis.connectWait = .seconds(1) }) { client, _ in
                #expect(await eventually { await client.isServing() })
                await redis.kill9()
                #expect(await eventually { await !client.isServing() })
                // Calls fail as UNAVAILABLE while Redis is down, not INTERNAL.
                var get = Imn_Dbos_V1_GetResultRequest()
                get.requestID = "x"
                var options = client.options(idempotent: false)
                options.timeout = .seconds(30)
                #expect(await rpcCode { _ = try await client.dbos.getResult(get, options: options) } == .unavailable)
                try await redis.restart()
                #expect(await eventually { await client.isServing() })
                #expect(await rpcCode { _ = try await client.dbos.getResult(get) } == .notFound)
            }
        }
    }

    @Test func startsWithoutRedisAndServesOnceItAppears() async throws {
        let port = FreePort.next()
        try await withRedisServer { running in
            // A DBOS pointed at a Redis that does not exist yet.
            let absent = ServerProcess(
                name: "redis-late", executable: ServerBinaries.redisServer ?? "redis-server", port: port, directory: running.directory,
                arguments: ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            try await withDBOS(redis: absent) { client, _ in
                try await Task.sleep(for: .milliseconds(300))
                #expect(await !client.isServing())
                try await absent.start()
                #expect(await eventually { await client.isServing() })
                _ = try await client.dbos.storeResult(.make("late"))
                await absent.kill9()
            }
        }
    }
}

@Suite(.enabled(if: ServerBinaries.redisAvailable, "redis-server is not installed: run scripts/setup"))
struct DBOSClientRetryTests {
    /// StoreResult is idempotent, so the client retries it on UNAVAILABLE: a store issued while
    /// Redis is briefly gone succeeds once Redis is back, and stores one record.
    @Test func idempotentCallsRideOutABriefRedisOutage() async throws {
        try await withRedisServer { redis in
            try await withDBOS(redis: redis, configure: { $0.redis.connectWait = .milliseconds(200) }) { client, _ in
                _ = try await client.storeResult(.make("before"))
                await redis.kill9()
                let restart = Task {
                    try await Task.sleep(for: .milliseconds(300))
                    try await redis.restart()
                }
                let stored = try await client.storeResult(.make("during"))
                try await restart.value
                #expect(!stored.duplicate)
                #expect(try await client.storeResult(.make("during")).duplicate)
                var list = Imn_Dbos_V1_ListResultsRequest()
                list.agentID = "agent_1"
                #expect(Set(try await client.listResults(list).results.map(\.requestID)) == ["before", "during"])
            }
        }
    }
}
