import GRPCCore
import Logging

// SetModuleStates and StoreResults: many calls in one, each item answered with the status its
// own call would have had.
extension DBOSService {
    static let maxBatchItems = 1000

    public func setModuleStates(request: Imn_Dbos_V1_SetModuleStatesRequest, context: ServerContext) async throws
        -> Imn_Dbos_V1_SetModuleStatesResponse
    {
        try Self.checkBatch(request.items.count)
        let changes = request.items.map { item in
            Result { () throws(DBOSError) in
                ModuleStateChange(
                    requestID: item.requestID, agentID: item.agentID, module: item.module, state: try Self.stateName(item.state),
                    expectedVersion: item.expectedVersion, actor: Self.optional(item.actor) ?? "unknown", detail: item.detail)
            }
        }
        let outcomes = await store.setModuleStates(changes)
        var response = Imn_Dbos_V1_SetModuleStatesResponse()
        response.items = outcomes.map { outcome in
            var item = Imn_Dbos_V1_SetModuleStateOutcome()
            switch outcome {
            case .success(let state): item.state = Imn_Dbos_V1_ModuleState(state)
            case .failure(let error): item.status = Self.itemStatus(error, logger: logger)
            }
            return item
        }
        return response
    }

    public func storeResults(request: Imn_Dbos_V1_StoreResultsRequest, context: ServerContext) async throws
        -> Imn_Dbos_V1_StoreResultsResponse
    {
        try Self.checkBatch(request.items.count)
        let results = request.items.map { item in Result { () throws(DBOSError) in try item.result.stored() } }
        let outcomes = await store.storeResults(results)
        var response = Imn_Dbos_V1_StoreResultsResponse()
        response.items = outcomes.map { outcome in
            var item = Imn_Dbos_V1_StoreResultOutcome()
            switch outcome {
            case .success(let stored):
                item.response.result = Imn_Dbos_V1_Result(stored.result)
                item.response.duplicate = stored.duplicate
            case .failure(let error): item.status = Self.itemStatus(error, logger: logger)
            }
            return item
        }
        return response
    }

    public func registerAgents(request: Imn_Dbos_V1_RegisterAgentsRequest, context: ServerContext) async throws
        -> Imn_Dbos_V1_RegisterAgentsResponse
    {
        try Self.checkBatch(request.items.count)
        let outcomes = await store.registerAgents(request.items.map { ($0.id, Array($0.info), Self.optional($0.actor) ?? "unknown") })
        var response = Imn_Dbos_V1_RegisterAgentsResponse()
        response.items = outcomes.map { outcome in
            var item = Imn_Dbos_V1_RegisterAgentOutcome()
            switch outcome {
            case .success(let registered):
                item.response.agent = Imn_Dbos_V1_Agent(registered.agent)
                item.response.new = registered.new
            case .failure(let error): item.status = Self.itemStatus(error, logger: logger)
            }
            return item
        }
        return response
    }

    static func checkBatch(_ count: Int) throws(RPCError) {
        guard count <= maxBatchItems else {
            throw RPCError(code: .invalidArgument, message: "a batch holds at most \(maxBatchItems) items, got \(count)")
        }
    }

    static func itemStatus(_ error: DBOSError, logger: Logger) -> Imn_Dbos_V1_ItemStatus {
        let rpc = rpcError(error)
        if rpc.code == .unavailable || rpc.code == .internalError {
            logger.warning("dbos batch item failed", metadata: ["error": "\(error)"])
        }
        var status = Imn_Dbos_V1_ItemStatus()
        status.code = Int32(rpc.code.rawValue)
        status.message = error.message
        if let current = error.currentState { status.current = Imn_Dbos_V1_ModuleState(current) }
        return status
    }
}
