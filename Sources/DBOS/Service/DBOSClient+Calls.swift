import GRPCCore
import GRPCNIOTransportHTTP2
import Tracing

// Every DBOS call with its retry policy decided once, here. Idempotent: reads, RegisterAgent
// (last write wins), StoreResult (keyed by request id), AckTask (same token acks once),
// CancelTask, DeleteResult, ScheduleTask with an id, CreateMeasurement (keyed by its id). Not retried: SetModuleState (a lost reply
// then looks like a version conflict), ListDueTasks (claims), NackTask, ScheduleTask without id.
extension DBOSClient {
    public func registerAgent(_ request: Imn_Dbos_V1_RegisterAgentRequest) async throws -> Imn_Dbos_V1_RegisterAgentResponse {
        try await dbos.registerAgent(request, options: options(idempotent: true))
    }

    /// Many registrations in one call; each item answered at its position (its `status` set when it failed).
    public func registerAgents(_ request: Imn_Dbos_V1_RegisterAgentsRequest) async throws -> Imn_Dbos_V1_RegisterAgentsResponse {
        try await dbos.registerAgents(request, options: options(idempotent: true))
    }

    public func getAgent(_ request: Imn_Dbos_V1_GetAgentRequest) async throws -> Imn_Dbos_V1_Agent {
        try await dbos.getAgent(request, options: options(idempotent: true))
    }

    public func listAgents(_ request: Imn_Dbos_V1_ListAgentsRequest) async throws -> Imn_Dbos_V1_ListAgentsResponse {
        try await dbos.listAgents(request, options: options(idempotent: true))
    }

    public func setModuleState(_ request: Imn_Dbos_V1_SetModuleStateRequest) async throws -> Imn_Dbos_V1_ModuleState {
        try await dbos.setModuleState(request, options: options(idempotent: false))
    }

    public func getModuleState(_ request: Imn_Dbos_V1_GetModuleStateRequest) async throws -> Imn_Dbos_V1_ModuleState {
        try await dbos.getModuleState(request, options: options(idempotent: true))
    }

    public func listModuleStates(_ request: Imn_Dbos_V1_ListModuleStatesRequest) async throws -> Imn_Dbos_V1_ListModuleStatesResponse {
        try await dbos.listModuleStates(request, options: options(idempotent: true))
    }

    public func storeResult(_ request: Imn_Dbos_V1_StoreResultRequest) async throws -> Imn_Dbos_V1_StoreResultResponse {
        try await dbos.storeResult(request, options: options(idempotent: true))
    }

    public func getResult(_ request: Imn_Dbos_V1_GetResultRequest) async throws -> Imn_Dbos_V1_Result {
        try await dbos.getResult(request, options: options(idempotent: true))
    }

    public func listResults(_ request: Imn_Dbos_V1_ListResultsRequest) async throws -> Imn_Dbos_V1_ListResultsResponse {
        try await dbos.listResults(request, options: options(idempotent: true))
    }

    public func deleteResult(_ request: Imn_Dbos_V1_DeleteResultRequest) async throws -> Imn_Dbos_V1_DeleteResultResponse {
        try await dbos.deleteResult(request, options: options(idempotent: true))
    }

    public func scheduleTask(_ request: Imn_Dbos_V1_ScheduleTaskRequest) async throws -> Imn_Dbos_V1_ScheduleTaskResponse {
        try await dbos.scheduleTask(request, options: options(idempotent: !request.id.isEmpty))
    }

    public func getTask(_ request: Imn_Dbos_V1_GetTaskRequest) async throws -> Imn_Dbos_V1_Task {
        try await dbos.getTask(request, options: options(idempotent: true))
    }

    public func listTasks(_ request: Imn_Dbos_V1_ListTasksRequest) async throws -> Imn_Dbos_V1_ListTasksResponse {
        try await dbos.listTasks(request, options: options(idempotent: true))
    }

    public func cancelTask(_ request: Imn_Dbos_V1_CancelTaskRequest) async throws -> Imn_Dbos_V1_CancelTaskResponse {
        try await dbos.cancelTask(request, options: options(idempotent: true))
    }

    /// Idempotent: the same measurement id creates nothing new and answers the first record.
    public func createMeasurement(_ request: Imn_Dbos_V1_CreateMeasurementRequest) async throws -> Imn_Dbos_V1_CreateMeasurementResponse {
        try await dbos.createMeasurement(request, options: options(idempotent: true))
    }

    /// CreateMeasurement by group commit (``DBOSBatcher``): the same reply or error as
    /// ``createMeasurement(_:)``, in one CreateMeasurements call with other callers' (traced as a
    /// client span of the caller's trace, linked to the batch's span, whose trace has the call).
    public func createMeasurementInBatch(_ request: Imn_Dbos_V1_CreateMeasurementRequest) async throws -> Imn_Dbos_V1_CreateMeasurementResponse {
        if Self.isUntraced { return try await createBatcher.submit(request) }
        let method = Imn_Dbos_V1_DBOS.Method.CreateMeasurement.descriptor
        return try await withSpan(method.fullyQualifiedMethod, ofKind: .client) { span in
            span.setRPCAttributes(method)
            span.attributes["imn.dbos.batched"] = true
            let (reply, batch) = try await createBatcher.submitLinked(request)
            if let batch { span.addLink(SpanLink(context: batch, attributes: [:])) }
            return reply
        }
    }

    public func getMeasurement(_ request: Imn_Dbos_V1_GetMeasurementRequest) async throws -> Imn_Dbos_V1_GetMeasurementResponse {
        try await dbos.getMeasurement(request, options: options(idempotent: true))
    }

    public func listMeasurements(_ request: Imn_Dbos_V1_ListMeasurementsRequest) async throws -> Imn_Dbos_V1_ListMeasurementsResponse {
        try await dbos.listMeasurements(request, options: options(idempotent: true))
    }

    public func claimDueTasks(_ request: Imn_Dbos_V1_ListDueTasksRequest) async throws -> Imn_Dbos_V1_ListDueTasksResponse {
        try await dbos.listDueTasks(request, options: options(idempotent: false))
    }

    public func ackTask(_ request: Imn_Dbos_V1_AckTaskRequest) async throws -> Imn_Dbos_V1_Task {
        try await dbos.ackTask(request, options: options(idempotent: true))
    }

    public func nackTask(_ request: Imn_Dbos_V1_NackTaskRequest) async throws -> Imn_Dbos_V1_Task {
        try await dbos.nackTask(request, options: options(idempotent: false))
    }

    public func deadLetters(_ request: Imn_Dbos_V1_ListDeadLettersRequest) async throws -> Imn_Dbos_V1_ListTasksResponse {
        try await dbos.listDeadLetters(request, options: options(idempotent: true))
    }

    public func events(_ request: Imn_Dbos_V1_GetEventsRequest) async throws -> Imn_Dbos_V1_GetEventsResponse {
        try await dbos.getEvents(request, options: options(idempotent: true))
    }
}

// Batches: StoreResults is idempotent (every item is); SetModuleStates is not.
extension DBOSClient {
    public func storeResults(_ request: Imn_Dbos_V1_StoreResultsRequest) async throws -> Imn_Dbos_V1_StoreResultsResponse {
        try await dbos.storeResults(request, options: options(idempotent: true))
    }

    public func setModuleStates(_ request: Imn_Dbos_V1_SetModuleStatesRequest) async throws -> Imn_Dbos_V1_SetModuleStatesResponse {
        try await dbos.setModuleStates(request, options: options(idempotent: false))
    }

    /// StoreResult by group commit (``DBOSBatcher``): the same reply or error as ``storeResult(_:)``.
    public func storeResultInBatch(_ request: Imn_Dbos_V1_StoreResultRequest) async throws -> Imn_Dbos_V1_StoreResultResponse {
        try await resultBatcher.submit(request)
    }

    /// SetModuleState by group commit (``DBOSBatcher``): the same reply or error as ``setModuleState(_:)``.
    public func setModuleStateInBatch(_ request: Imn_Dbos_V1_SetModuleStateRequest) async throws -> Imn_Dbos_V1_ModuleState {
        let outcome = try await statesBatcher.submit([request]).first ?? Imn_Dbos_V1_SetModuleStateOutcome()
        guard !outcome.hasStatus || outcome.status.code == 0 else { throw Self.rpcError(outcome.status) }
        guard outcome.hasState else { throw RPCError(code: .internalError, message: "DBOS answered fewer items than it was sent") }
        return outcome.state
    }

    /// SetModuleStates by group commit: this request's items stay together and in order, beside
    /// other callers' requests in one SetModuleStates call; the outcomes are what its own call
    /// would have answered.
    public func setModuleStatesInBatch(_ request: Imn_Dbos_V1_SetModuleStatesRequest) async throws -> Imn_Dbos_V1_SetModuleStatesResponse {
        var response = Imn_Dbos_V1_SetModuleStatesResponse()
        response.items = try await statesBatcher.submit(request.items)
        return response
    }

    /// StoreResult over the client's open StoreResultStream (``DBOSResultStream``): the same reply
    /// or error as ``storeResult(_:)``, without a call per result. Retried like it (``idempotentRetry``).
    public func storeResultStreamed(_ request: Imn_Dbos_V1_StoreResultRequest) async throws -> Imn_Dbos_V1_StoreResultResponse {
        let policy = Self.idempotentRetry
        var backoff = policy.initialBackoff
        var attempt = 1
        while true {
            do {
                return try await resultStream.submit(request)
            } catch let error as RPCError where policy.retryableStatusCodes.contains(Status.Code(error.code)) && attempt < policy.maxAttempts {
                try await Task.sleep(for: backoff)
                backoff = min(backoff * policy.backoffMultiplier, policy.maxBackoff)
                attempt += 1
            }
        }
    }

    static func makeResultBatcher(
        _ dbos: Imn_Dbos_V1_DBOS.Client<HTTP2ClientTransport.Posix>, options: CallOptions
    ) -> DBOSBatcher<Imn_Dbos_V1_StoreResultRequest, Imn_Dbos_V1_StoreResultResponse> {
        DBOSBatcher(name: "imn.dbos group commit StoreResults", size: { $0.result.payload.count + 512 }) { items in
            var request = Imn_Dbos_V1_StoreResultsRequest()
            request.items = items
            return try await dbos.storeResults(request, options: options).items.map { item in
                item.hasStatus && item.status.code != 0 ? .failure(rpcError(item.status)) : .success(item.response)
            }
        }
    }

    static func makeCreateBatcher(
        _ dbos: Imn_Dbos_V1_DBOS.Client<HTTP2ClientTransport.Posix>, options: CallOptions
    ) -> DBOSBatcher<Imn_Dbos_V1_CreateMeasurementRequest, Imn_Dbos_V1_CreateMeasurementResponse> {
        DBOSBatcher(
            name: "imn.dbos group commit CreateMeasurements", maxItems: 64, size: { $0.measurement.spec.count + $0.measurement.runs.count * 96 + 512 }
        ) { items in
            var request = Imn_Dbos_V1_CreateMeasurementsRequest()
            request.items = items
            return try await dbos.createMeasurements(request, options: options).items.map { item in
                item.hasStatus && item.status.code != 0 ? .failure(rpcError(item.status)) : .success(item.response)
            }
        }
    }

    /// Whole SetModuleStates requests (a run's states in order) joined into one call, at most
    /// 1,000 items: 250 requests of up to four states.
    static func makeStatesBatcher(
        _ dbos: Imn_Dbos_V1_DBOS.Client<HTTP2ClientTransport.Posix>, options: CallOptions
    ) -> DBOSBatcher<[Imn_Dbos_V1_SetModuleStateRequest], [Imn_Dbos_V1_SetModuleStateOutcome]> {
        DBOSBatcher(name: "imn.dbos group commit SetModuleStates", maxItems: 250, size: { $0.reduce(0) { $0 + $1.detail.utf8.count + 256 } }) {
            requests in
            guard requests.allSatisfy({ $0.count <= 4 }) else {
                // Longer than a path ever is: each on its own, so the call limit holds.
                var replies: [Result<[Imn_Dbos_V1_SetModuleStateOutcome], RPCError>] = []
                for items in requests {
                    var request = Imn_Dbos_V1_SetModuleStatesRequest()
                    request.items = items
                    replies.append(.success(try await dbos.setModuleStates(request, options: options).items))
                }
                return replies
            }
            var request = Imn_Dbos_V1_SetModuleStatesRequest()
            request.items = requests.flatMap { $0 }
            var outcomes = try await dbos.setModuleStates(request, options: options).items[...]
            return requests.map { items in
                let mine = Array(outcomes.prefix(items.count))
                outcomes = outcomes.dropFirst(items.count)
                return .success(mine)
            }
        }
    }

    /// The error a single call would have thrown for this item status.
    public static func rpcError(_ status: Imn_Dbos_V1_ItemStatus) -> RPCError {
        var metadata = Metadata()
        if status.hasCurrent, let bytes = try? status.current.serializedBytes() as [UInt8] {
            metadata.addBinary(bytes, forKey: currentStateMetadataKey)
        }
        return RPCError(
            code: Status.Code(rawValue: Int(status.code)).flatMap { RPCError.Code($0) } ?? .unknown, message: status.message, metadata: metadata)
    }
}
