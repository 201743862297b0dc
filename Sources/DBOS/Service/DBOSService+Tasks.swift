import GRPCCore

extension DBOSService {
    public func scheduleTask(request: Imn_Dbos_V1_ScheduleTaskRequest, context: ServerContext) async throws -> Imn_Dbos_V1_ScheduleTaskResponse {
        try await handle("ScheduleTask") { () throws(DBOSError) in
            let kind: ScheduledTask.Kind
            switch request.kind {
            case "once", "": kind = .once
            case "interval": kind = .interval(milliseconds: request.intervalMs)
            case "cron": kind = .cron(request.cron)
            default: throw DBOSError(.invalidArgument, "unknown task kind \"\(request.kind)\" (once, interval or cron)")
            }
            var task = TaskRequest(id: request.id, kind: kind, payload: Array(request.payload))
            guard request.startMs >= 0, request.endMs >= 0 else { throw DBOSError(.invalidArgument, "times must not be negative") }
            task.startAtMilliseconds = request.startMs > 0 ? request.startMs : nil
            task.endAtMilliseconds = request.endMs > 0 ? request.endMs : nil
            if request.maxDeliveries != 0 { task.maxDeliveries = Int(request.maxDeliveries) }
            if request.visibilityTimeoutMs != 0 { task.visibilityTimeoutMilliseconds = request.visibilityTimeoutMs }
            task.ephemeral = request.ephemeral
            let (scheduled, created) = try await store.scheduleTask(task, actor: Self.optional(request.actor) ?? "unknown")
            var response = Imn_Dbos_V1_ScheduleTaskResponse()
            response.task = Imn_Dbos_V1_Task(scheduled)
            response.created = created
            return response
        }
    }

    public func getTask(request: Imn_Dbos_V1_GetTaskRequest, context: ServerContext) async throws -> Imn_Dbos_V1_Task {
        try await handle("GetTask") { () throws(DBOSError) in Imn_Dbos_V1_Task(try await store.getTask(id: request.id)) }
    }

    public func listTasks(request: Imn_Dbos_V1_ListTasksRequest, context: ServerContext) async throws -> Imn_Dbos_V1_ListTasksResponse {
        try await handle("ListTasks") { () throws(DBOSError) in
            Self.response(try await store.listTasks(limit: Int(request.pageSize), cursor: Self.optional(request.cursor)))
        }
    }

    public func cancelTask(request: Imn_Dbos_V1_CancelTaskRequest, context: ServerContext) async throws -> Imn_Dbos_V1_CancelTaskResponse {
        try await handle("CancelTask") { () throws(DBOSError) in
            var response = Imn_Dbos_V1_CancelTaskResponse()
            response.cancelled = try await store.cancelTask(id: request.id, actor: Self.optional(request.actor) ?? "unknown")
            return response
        }
    }

    public func listDueTasks(request: Imn_Dbos_V1_ListDueTasksRequest, context: ServerContext) async throws -> Imn_Dbos_V1_ListDueTasksResponse {
        try await handle("ListDueTasks") { () throws(DBOSError) in
            var response = Imn_Dbos_V1_ListDueTasksResponse()
            response.tasks = try await store.claimDueTasks(limit: Int(request.maxTasks), worker: request.worker).map(Imn_Dbos_V1_Task.init)
            return response
        }
    }

    public func ackTask(request: Imn_Dbos_V1_AckTaskRequest, context: ServerContext) async throws -> Imn_Dbos_V1_Task {
        try await handle("AckTask") { () throws(DBOSError) in
            Imn_Dbos_V1_Task(
                try await store.ackTask(id: request.id, leaseToken: request.leaseToken, actor: Self.optional(request.actor) ?? "unknown"))
        }
    }

    public func nackTask(request: Imn_Dbos_V1_NackTaskRequest, context: ServerContext) async throws -> Imn_Dbos_V1_Task {
        try await handle("NackTask") { () throws(DBOSError) in
            guard request.delayMs >= 0 else { throw DBOSError(.invalidArgument, "delay must not be negative") }
            return Imn_Dbos_V1_Task(
                try await store.nackTask(id: request.id, leaseToken: request.leaseToken, delay: .milliseconds(request.delayMs), error: request.error))
        }
    }

    public func listDeadLetters(request: Imn_Dbos_V1_ListDeadLettersRequest, context: ServerContext) async throws -> Imn_Dbos_V1_ListTasksResponse {
        try await handle("ListDeadLetters") { () throws(DBOSError) in
            Self.response(try await store.deadLetters(limit: Int(request.pageSize), cursor: Self.optional(request.cursor)))
        }
    }

    static func response(_ page: Page<ScheduledTask>) -> Imn_Dbos_V1_ListTasksResponse {
        var response = Imn_Dbos_V1_ListTasksResponse()
        response.tasks = page.items.map(Imn_Dbos_V1_Task.init)
        response.nextCursor = page.nextCursor ?? ""
        return response
    }
}
