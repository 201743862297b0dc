import Foundation
import RedisClient

extension DBOSStore {
    /// Schedules a task. With an id that already exists, returns the existing task and
    /// `created == false` (scheduling is idempotent).
    public func scheduleTask(_ request: TaskRequest, actor: String = "api") async throws(DBOSError) -> (task: ScheduledTask, created: Bool) {
        let id = request.id.isEmpty ? UUID().uuidString.lowercased() : request.id
        try Self.validateID(id, "task id")
        guard request.payload.count <= configuration.maxPayloadBytes else {
            throw DBOSError(.invalidArgument, "task payload of \(request.payload.count) bytes is over the limit of \(configuration.maxPayloadBytes)")
        }
        guard (1...1000).contains(request.maxDeliveries) else { throw DBOSError(.invalidArgument, "max deliveries must be 1–1000") }
        guard request.visibilityTimeoutMilliseconds >= 100 else { throw DBOSError(.invalidArgument, "visibility timeout must be at least 100 ms") }
        if let start = request.startAtMilliseconds, start < 0 { throw DBOSError(.invalidArgument, "start time must not be negative") }
        if let end = request.endAtMilliseconds, end <= (request.startAtMilliseconds ?? 0) {
            throw DBOSError(.invalidArgument, "end time must come after the start time")
        }
        var kind = "once"
        var interval: Int64 = 0
        var cron = ""
        var firstDue = request.startAtMilliseconds ?? 0
        switch request.kind {
        case .once: break
        case .interval(let milliseconds):
            guard milliseconds >= 100 else { throw DBOSError(.invalidArgument, "interval must be at least 100 ms") }
            (kind, interval) = ("interval", milliseconds)
        case .cron(let expression):
            let schedule = try CronSchedule(expression)
            let now = try await redisTime()
            guard let next = schedule.next(after: max(firstDue, now) - 1) else {
                throw DBOSError(.invalidArgument, "cron \"\(expression)\" never fires")
            }
            (kind, cron, firstDue) = ("cron", expression, next)
        }
        let reply = try await run(
            TaskQueueScripts.schedule, keys: [keys.task(id), keys.pendingTasks, keys.allTasks, keys.events],
            arguments: [
                RedisArgument(id), RedisArgument(kind), RedisArgument(request.payload), RedisArgument(firstDue), RedisArgument(interval),
                RedisArgument(cron), RedisArgument(request.endAtMilliseconds ?? 0), RedisArgument(request.maxDeliveries),
                RedisArgument(request.visibilityTimeoutMilliseconds), RedisArgument(actor), RedisArgument(configuration.maxEvents),
                RedisArgument(request.ephemeral ? 1 : 0),
            ])
        let (outcome, task) = try Self.outcomeAndTask(reply)
        guard let task else { throw DBOSError(.internalError, "schedule script returned no task") }
        return (task, outcome == "created")
    }

    public func getTask(id: String) async throws(DBOSError) -> ScheduledTask {
        try Self.validateID(id, "task id")
        guard let task = Self.task(from: try await send(RedisCommand("HGETALL", keys.task(id))).hash) else {
            throw DBOSError(.notFound, "no task \(id)")
        }
        return task
    }

    /// Claims up to `limit` due tasks for `worker`, each with a fresh lease lasting its
    /// visibility timeout. Expired leases are returned to pending (or dead-lettered) first.
    public func claimDueTasks(limit: Int, worker: String) async throws(DBOSError) -> [ScheduledTask] {
        guard (1...1000).contains(limit) else { throw DBOSError(.invalidArgument, "claim between 1 and 1000 tasks (got \(limit))") }
        try Self.validateID(worker, "worker")
        let reply = try await run(
            TaskQueueScripts.claim, keys: [keys.pendingTasks, keys.inflightTasks, keys.deadTasks, keys.leaseCounter, keys.events],
            arguments: [keys.taskPrefix, RedisArgument(limit), RedisArgument(worker), RedisArgument(configuration.maxEvents)])
        return (reply.array ?? []).compactMap { Self.task(from: $0.hash) }
    }

    /// Completes the current run. A recurring task is re-enqueued for its next run.
    /// A lease token that is not the current one is rejected with `failedPrecondition`.
    public func ackTask(id: String, leaseToken: String, actor: String = "worker") async throws(DBOSError) -> ScheduledTask {
        try Self.validateID(id, "task id")
        try Self.validateID(leaseToken, "lease token")
        var nextCron: Int64 = 0
        let current = try await getTask(id: id)
        if case .cron(let expression) = current.kind {
            let now = try await redisTime()
            nextCron = try CronSchedule(expression).next(after: max(current.dueAtMilliseconds, now)) ?? 0
        }
        let reply = try await run(
            TaskQueueScripts.ack, keys: [keys.task(id), keys.inflightTasks, keys.pendingTasks, keys.events],
            arguments: [
                RedisArgument(id), RedisArgument(leaseToken), RedisArgument(nextCron), RedisArgument(actor), RedisArgument(configuration.maxEvents),
            ])
        return try Self.leaseOutcome(reply, id: id)
    }

    /// Gives the task back: pending again after `delay`, or dead once it has had its deliveries.
    public func nackTask(id: String, leaseToken: String, delay: Duration = .zero, error: String = "") async throws(DBOSError) -> ScheduledTask {
        try Self.validateID(id, "task id")
        try Self.validateID(leaseToken, "lease token")
        guard delay >= .zero else { throw DBOSError(.invalidArgument, "delay must not be negative") }
        let delayMilliseconds = delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000
        let reply = try await run(
            TaskQueueScripts.nack, keys: [keys.task(id), keys.pendingTasks, keys.inflightTasks, keys.deadTasks, keys.events],
            arguments: [
                keys.taskPrefix, RedisArgument(id), RedisArgument(leaseToken), RedisArgument(delayMilliseconds),
                RedisArgument(String(error.prefix(4096))),
                RedisArgument(configuration.maxEvents),
            ])
        return try Self.leaseOutcome(reply, id: id)
    }

    /// Removes a task wherever it is; false when there was none.
    @discardableResult
    public func cancelTask(id: String, actor: String = "api") async throws(DBOSError) -> Bool {
        try Self.validateID(id, "task id")
        let reply = try await run(
            TaskQueueScripts.cancel,
            keys: [keys.task(id), keys.pendingTasks, keys.inflightTasks, keys.deadTasks, keys.allTasks, keys.events],
            arguments: [RedisArgument(id), RedisArgument(actor), RedisArgument(configuration.maxEvents)])
        return reply.integer == 1
    }

    public func deadLetters(limit: Int = 0, cursor: String? = nil) async throws(DBOSError) -> Page<ScheduledTask> {
        try await tasks(in: keys.deadTasks, limit: limit, cursor: cursor)
    }

    /// Every task by creation time.
    public func listTasks(limit: Int = 0, cursor: String? = nil) async throws(DBOSError) -> Page<ScheduledTask> {
        try await tasks(in: keys.allTasks, limit: limit, cursor: cursor)
    }

    private func tasks(in index: RedisArgument, limit: Int, cursor: String?) async throws(DBOSError) -> Page<ScheduledTask> {
        let limit = try pageSize(limit)
        return try await page(index: index, range: TimeRange(), cursor: cursor, limit: limit) { ids throws(DBOSError) in
            try await pipeline(ids.map { RedisCommand("HGETALL", keys.task($0)) }).map { Self.task(from: $0.hash) }
        }
    }

    /// The Redis server's clock, in ms.
    func redisTime() async throws(DBOSError) -> Int64 {
        let reply = try await send(RedisCommand("TIME"))
        guard let parts = reply.array, parts.count == 2, let seconds = parts[0].integer, let micros = parts[1].integer else {
            throw DBOSError(.internalError, "unexpected TIME reply")
        }
        return seconds * 1000 + micros / 1000
    }

    private static func outcomeAndTask(_ reply: RedisReply) throws(DBOSError) -> (String, ScheduledTask?) {
        guard let parts = reply.array, parts.count == 2, let outcome = parts[0].text else {
            throw DBOSError(.internalError, "unexpected reply from a task script")
        }
        return (outcome, task(from: parts[1].hash))
    }

    private static func leaseOutcome(_ reply: RedisReply, id: String) throws(DBOSError) -> ScheduledTask {
        let (outcome, task) = try outcomeAndTask(reply)
        switch (outcome, task) {
        case ("ok", .some(let task)): return task
        case ("stale", _): throw DBOSError(.failedPrecondition, "stale lease for task \(id): it was reclaimed or already finished")
        case ("notfound", _): throw DBOSError(.notFound, "no task \(id)")
        default: throw DBOSError(.internalError, "unexpected outcome \(outcome) from a task script")
        }
    }

    static func task(from fields: [String: [UInt8]]) -> ScheduledTask? {
        guard !fields.isEmpty, let state = ScheduledTask.State(rawValue: fields.text("state")) else { return nil }
        let kind: ScheduledTask.Kind =
            switch fields.text("kind") {
            case "interval": .interval(milliseconds: fields.int("interval_ms"))
            case "cron": .cron(fields.text("cron"))
            default: .once
            }
        return ScheduledTask(
            id: fields.text("id"), kind: kind, payload: fields["payload"] ?? [], state: state, dueAtMilliseconds: fields.int("due_ms"),
            endAtMilliseconds: fields.int("end_ms"), deliveries: Int(fields.int("deliveries")), maxDeliveries: Int(fields.int("max_deliveries")),
            visibilityTimeoutMilliseconds: fields.int("visibility_ms"), leaseToken: fields.text("lease"),
            leaseDeadlineMilliseconds: fields.int("deadline_ms"), owner: fields.text("owner"), runs: Int(fields.int("runs")),
            lastError: fields.text("last_error"), createdAtMilliseconds: fields.int("created_ms"), updatedAtMilliseconds: fields.int("updated_ms"))
    }
}
