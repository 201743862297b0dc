import GRPCCore
import Logging
import SwiftProtobuf

// SetModuleStates, StoreResults and RegisterAgents: many calls in one, each item answered with the status its
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
        var response = Imn_Dbos_V1_SetModuleStatesResponse()
        response.items = answer(await store.setModuleStates(changes), status: \.status) { $0.state = Imn_Dbos_V1_ModuleState($1) }
        return response
    }

    public func storeResults(request: Imn_Dbos_V1_StoreResultsRequest, context: ServerContext) async throws
        -> Imn_Dbos_V1_StoreResultsResponse
    {
        try Self.checkBatch(request.items.count)
        let results = request.items.map { item in Result { () throws(DBOSError) in try item.result.stored() } }
        var response = Imn_Dbos_V1_StoreResultsResponse()
        response.items = storeOutcomes(await store.storeResults(results))
        return response
    }

    /// StoreResults' and StoreResultStream's answer per result.
    func storeOutcomes(_ stored: [Result<(result: StoredResult, duplicate: Bool), DBOSError>]) -> [Imn_Dbos_V1_StoreResultOutcome] {
        answer(stored, status: \.status) { item, stored in
            item.response.result = Imn_Dbos_V1_Result(stored.result)
            item.response.duplicate = stored.duplicate
        }
    }

    public func registerAgents(request: Imn_Dbos_V1_RegisterAgentsRequest, context: ServerContext) async throws
        -> Imn_Dbos_V1_RegisterAgentsResponse
    {
        try Self.checkBatch(request.items.count)
        let outcomes = await store.registerAgents(request.items.map { ($0.id, Array($0.info), Self.optional($0.actor) ?? "unknown") })
        var response = Imn_Dbos_V1_RegisterAgentsResponse()
        response.items = answer(outcomes, status: \.status) { item, registered in
            item.response.agent = Imn_Dbos_V1_Agent(registered.agent)
            item.response.new = registered.new
        }
        return response
    }

    /// One answer per outcome, at its position: `fill` for a success, the item's status for a failure.
    func answer<Value, Item: SwiftProtobuf.Message>(
        _ outcomes: [Result<Value, DBOSError>], status: WritableKeyPath<Item, Imn_Dbos_V1_ItemStatus>, fill: (inout Item, Value) -> Void
    ) -> [Item] {
        outcomes.map { outcome in
            var item = Item()
            switch outcome {
            case .success(let value): fill(&item, value)
            case .failure(let error): item[keyPath: status] = Self.itemStatus(error, logger: logger)
            }
            return item
        }
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
