import DBOS
import IMNTestSupport
import RedisClient
import Testing

@Suite(.enabled(if: ServerBinaries.redisAvailable, "redis-server is not installed: run scripts/setup"))
struct TaskQueueTests {
    static func once(_ id: String, visibility: Int64 = 30_000, maxDeliveries: Int = 5) -> TaskRequest {
        var request = TaskRequest(id: id, kind: .once, payload: Array("run \(id)".utf8))
        request.visibilityTimeoutMilliseconds = visibility
        request.maxDeliveries = maxDeliveries
        return request
    }

    @Test func unackedTaskReturnsAfterVisibilityTimeoutWithANewLease() async throws {
        try await withStore { store, _ in
            _ = try await store.scheduleTask(Self.once("t1", visibility: 1500))  // long enough for a loaded machine
            let first = try #require(try await store.claimDueTasks(limit: 10, worker: "w1").first)
            #expect(first.state == .inflight)
            #expect(first.deliveries == 1)
            #expect(try await store.claimDueTasks(limit: 10, worker: "w2").isEmpty, "leased tasks are invisible")
            try await Task.sleep(for: .milliseconds(1600))
            let second = try #require(try await store.claimDueTasks(limit: 10, worker: "w2").first)
            #expect(second.id == "t1")
            #expect(second.deliveries == 2)
            #expect(second.leaseToken != first.leaseToken)
            #expect(second.owner == "w2")
            let stale = await #expect(throws: DBOSError.self) { try await store.ackTask(id: "t1", leaseToken: first.leaseToken) }
            #expect(stale?.code == .failedPrecondition)
            let staleNack = await #expect(throws: DBOSError.self) { try await store.nackTask(id: "t1", leaseToken: first.leaseToken) }
            #expect(staleNack?.code == .failedPrecondition)
            let done = try await store.ackTask(id: "t1", leaseToken: second.leaseToken)
            #expect(done.state == .done)
            // Retrying the same ack (a lost reply) is fine and changes nothing.
            #expect(try await store.ackTask(id: "t1", leaseToken: second.leaseToken).state == .done)
            #expect(try await store.claimDueTasks(limit: 10, worker: "w1").isEmpty)
        }
    }

    @Test func afterMaxDeliveriesTheTaskIsDeadLettered() async throws {
        try await withStore { store, _ in
            _ = try await store.scheduleTask(Self.once("poison", maxDeliveries: 3))
            for delivery in 1...3 {
                let task = try #require(try await store.claimDueTasks(limit: 1, worker: "w").first)
                #expect(task.deliveries == delivery)
                _ = try await store.nackTask(id: "poison", leaseToken: task.leaseToken, error: "boom \(delivery)")
            }
            let dead = try await store.getTask(id: "poison")
            #expect(dead.state == .dead)
            #expect(dead.lastError == "boom 3")
            #expect(try await store.deadLetters().items.map(\.id) == ["poison"])
            #expect(try await store.claimDueTasks(limit: 1, worker: "w").isEmpty)

            // Expired leases count as failed deliveries too.
            _ = try await store.scheduleTask(Self.once("sleepy", visibility: 150, maxDeliveries: 2))
            for _ in 0..<2 {
                #expect(try await store.claimDueTasks(limit: 1, worker: "w").count == 1)
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(try await store.claimDueTasks(limit: 1, worker: "w").isEmpty)
            #expect(try await store.getTask(id: "sleepy").state == .dead)
            #expect(Set(try await store.deadLetters().items.map(\.id)) == ["poison", "sleepy"])
        }
    }

    @Test func nackWithDelayHidesTheTaskUntilThen() async throws {
        try await withStore { store, _ in
            _ = try await store.scheduleTask(Self.once("later"))
            let task = try #require(try await store.claimDueTasks(limit: 1, worker: "w").first)
            let requeued = try await store.nackTask(id: "later", leaseToken: task.leaseToken, delay: .milliseconds(400), error: "agent busy")
            #expect(requeued.state == .pending)
            #expect(try await store.claimDueTasks(limit: 1, worker: "w").isEmpty)
            try await Task.sleep(for: .milliseconds(450))
            #expect(try await store.claimDueTasks(limit: 1, worker: "w").first?.deliveries == 2)
        }
    }

    @Test func intervalTaskReEnqueuesItsNextRunAndStopsAtItsEnd() async throws {
        try await withStore { store, _ in
            var request = TaskRequest(id: "every", kind: .interval(milliseconds: 1000), payload: [])
            let scheduled = try await store.scheduleTask(request).task
            let claimed = try #require(try await store.claimDueTasks(limit: 1, worker: "w").first)
            let acked = try await store.ackTask(id: "every", leaseToken: claimed.leaseToken)
            #expect(acked.state == .pending)
            #expect(acked.runs == 1)
            #expect(acked.deliveries == 0)
            // The next run is one interval after the previous due time (later only if that is already past).
            #expect((acked.dueAtMilliseconds - scheduled.dueAtMilliseconds) % 1000 == 0)
            #expect(acked.dueAtMilliseconds > scheduled.dueAtMilliseconds)
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await store.claimDueTasks(limit: 1, worker: "w").first?.runs == 1)

            request = TaskRequest(id: "short", kind: .interval(milliseconds: 200), payload: [])
            let now = try await store.scheduleTask(request).task.dueAtMilliseconds
            request.id = "short-ended"
            request.startAtMilliseconds = now
            request.endAtMilliseconds = now + 100
            _ = try await store.scheduleTask(request)
            let ending = try #require(try await store.claimDueTasks(limit: 5, worker: "w").first { $0.id == "short-ended" })
            #expect(try await store.ackTask(id: "short-ended", leaseToken: ending.leaseToken).state == .done)
        }
    }

    @Test func cronTaskIsDueAtTheNextMatchingMinute() async throws {
        try await withStore { store, _ in
            let (task, created) = try await store.scheduleTask(TaskRequest(id: "nightly", kind: .cron("30 2 * * *"), payload: []))
            #expect(created)
            #expect(task.dueAtMilliseconds % 60_000 == 0)
            #expect(task.dueAtMilliseconds / 60_000 % (24 * 60) == 2 * 60 + 30)
            let bad = await #expect(throws: DBOSError.self) { try await store.scheduleTask(TaskRequest(kind: .cron("61 * * * *"), payload: [])) }
            #expect(bad?.code == .invalidArgument)
        }
    }

    @Test func schedulingIsIdempotentAndTasksCanBeCancelled() async throws {
        try await withStore { store, _ in
            let first = try await store.scheduleTask(Self.once("same"))
            let second = try await store.scheduleTask(TaskRequest(id: "same", kind: .interval(milliseconds: 1000), payload: [1]))
            #expect(first.created && !second.created)
            #expect(second.task == first.task)
            #expect(try await store.listTasks().items.map(\.id) == ["same"])
            #expect(try await store.cancelTask(id: "same"))
            #expect(try await !store.cancelTask(id: "same"))
            #expect(try await store.claimDueTasks(limit: 10, worker: "w").isEmpty)
            let missing = await #expect(throws: DBOSError.self) { try await store.getTask(id: "same") }
            #expect(missing?.code == .notFound)
        }
    }

    /// Housekeeping tasks (a request's deadline) run like others but are not listed, and are
    /// forgotten a day after they are done; ordinary done tasks are kept.
    @Test func ephemeralTaskIsUnlistedAndExpiresWhenDone() async throws {
        try await withStore { store, server in
            var housekeeping = Self.once("dl_req-1")
            housekeeping.ephemeral = true
            _ = try await store.scheduleTask(housekeeping)
            _ = try await store.scheduleTask(Self.once("listed"))
            #expect(try await store.listTasks().items.map(\.id) == ["listed"])
            let claimed = try await store.claimDueTasks(limit: 10, worker: "w")
            #expect(Set(claimed.map(\.id)) == ["dl_req-1", "listed"])
            for task in claimed { _ = try await store.ackTask(id: task.id, leaseToken: task.leaseToken) }
            #expect(try await store.getTask(id: "dl_req-1").state == .done)
            let redis = RedisClient(configuration: try RedisConfiguration(url: server.redisURL))
            let ephemeralTTL = try await redis.send("PTTL", "imn:task:dl_req-1").integer ?? 0
            #expect(ephemeralTTL > 86_000_000 && ephemeralTTL <= 86_400_000, "\(ephemeralTTL)")
            #expect(try await redis.send("PTTL", "imn:task:listed").integer == -1)
            await redis.close()
        }
    }

    @Test func concurrentWorkersClaimEachTaskOnce() async throws {
        try await withStore { store, _ in
            for index in 0..<60 { _ = try await store.scheduleTask(Self.once("job-\(index)")) }
            let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
                for worker in 0..<6 {
                    group.addTask {
                        var mine: [String] = []
                        while true {
                            let batch = try await store.claimDueTasks(limit: 3, worker: "w\(worker)")
                            if batch.isEmpty { return mine }
                            for task in batch {
                                _ = try await store.ackTask(id: task.id, leaseToken: task.leaseToken)
                                mine.append(task.id)
                            }
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(claimed.count == 60)
            #expect(Set(claimed).count == 60)
            let events = try await store.events(limit: 1000).items
            #expect(events.filter { $0.kind == "task.claimed" }.count == 60)
            #expect(events.filter { $0.kind == "task.done" }.count == 60)
        }
    }

    @Test func badTaskInputIsInvalidArgument() async throws {
        try await withStore { store, _ in
            var zeroDeliveries = Self.once("x")
            zeroDeliveries.maxDeliveries = 0
            var tinyInterval = TaskRequest(kind: .interval(milliseconds: 1), payload: [])
            tinyInterval.id = "tiny"
            var backwards = Self.once("y")
            backwards.startAtMilliseconds = 2000
            backwards.endAtMilliseconds = 1000
            for request in [zeroDeliveries, tinyInterval, backwards, Self.once("bad id")] {
                let error = await #expect(throws: DBOSError.self) { try await store.scheduleTask(request) }
                #expect(error?.code == .invalidArgument)
            }
            let claim = await #expect(throws: DBOSError.self) { try await store.claimDueTasks(limit: 0, worker: "w") }
            #expect(claim?.code == .invalidArgument)
            let ack = await #expect(throws: DBOSError.self) { try await store.ackTask(id: "nope", leaseToken: "1-1") }
            #expect(ack?.code == .notFound)
        }
    }
}

@Suite struct CronScheduleTests {
    static let base: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z, a Thursday

    @Test func nextMatches() throws {
        #expect(try CronSchedule("* * * * *").next(after: Self.base) == Self.base + 60_000)
        #expect(try CronSchedule("*/15 * * * *").next(after: Self.base + 1) == Self.base + 15 * 60_000)
        #expect(try CronSchedule("30 2 * * *").next(after: Self.base) == Self.base + (2 * 60 + 30) * 60_000)
        // Next Monday (0 = Sunday) at 09:00: 2026-01-05.
        #expect(try CronSchedule("0 9 * * 1").next(after: Self.base) == Self.base + (4 * 24 * 60 + 9 * 60) * 60_000)
        // 29 February: the next one is in 2028.
        #expect(try CronSchedule("0 0 29 2 *").next(after: Self.base) == 1_835_395_200_000)
        #expect(try CronSchedule("0 0 30 2 *").next(after: Self.base) == nil)
        #expect(try CronSchedule("0 12 1-3,15 * 7").next(after: Self.base) == Self.base + 12 * 3_600_000)
    }

    @Test(arguments: ["", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "a * * * *"])
    func rejects(_ expression: String) {
        #expect(throws: DBOSError.self) { try CronSchedule(expression) }
    }
}
