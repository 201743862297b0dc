import Foundation
import GRPCCore
import Logging

/// The `imn.dbos.v1.DBOS` gRPC service: validates, calls ``DBOSStore``, maps errors to gRPC
/// status codes. Nothing here keeps state; several DBOS processes can serve one Redis.
public struct DBOSService: Imn_Dbos_V1_DBOS.SimpleServiceProtocol {
    let store: DBOSStore
    let logger: Logger
    let streams = OpenStreams()

    public init(store: DBOSStore, logger: Logger = Logger(label: "imn.dbos.service")) {
        self.store = store
        self.logger = logger
    }

    /// Runs `body`, turning a ``DBOSError`` into the `RPCError` the client sees.
    func handle<T>(_ method: String, _ body: () async throws(DBOSError) -> T) async throws(RPCError) -> T {
        do {
            return try await body()
        } catch {
            if error.code == .unavailable || error.code == .internalError || error.code == .resourceExhausted {
                logger.warning("dbos call failed", metadata: ["rpc.method": "\(method)", "error": "\(error)"])
            }
            throw Self.rpcError(error)
        }
    }

    /// Ends the open StoreResultStream calls (at a graceful shutdown); new ones are refused.
    public func endStreams() { streams.endAll() }

    static func rpcError(_ error: DBOSError) -> RPCError {
        let code: RPCError.Code =
            switch error.code {
            case .invalidArgument: .invalidArgument
            case .notFound: .notFound
            case .aborted: .aborted
            case .failedPrecondition: .failedPrecondition
            case .unavailable: .unavailable
            case .alreadyExists: .alreadyExists
            case .resourceExhausted: .resourceExhausted
            default: .internalError
            }
        var metadata = Metadata()
        if let current = error.currentState, let bytes = try? Imn_Dbos_V1_ModuleState(current).serializedBytes() as [UInt8] {
            metadata.addBinary(bytes, forKey: DBOSClient.currentStateMetadataKey)
        }
        return RPCError(code: code, message: error.message, metadata: metadata)
    }

    static func stateName(_ name: String) throws(DBOSError) -> ModuleStateName {
        guard let state = ModuleStateName(rawValue: name) else {
            throw DBOSError(.invalidArgument, "unknown state \"\(name)\" (created, started, running, completed, error, failed)")
        }
        return state
    }

    static func optional(_ text: String) -> String? { text.isEmpty ? nil : text }

    // MARK: Agents

    public func registerAgent(request: Imn_Dbos_V1_RegisterAgentRequest, context: ServerContext) async throws -> Imn_Dbos_V1_RegisterAgentResponse {
        try await handle("RegisterAgent") { () throws(DBOSError) in
            let (agent, new) = try await store.registerAgent(
                id: request.id, info: Array(request.info), actor: Self.optional(request.actor) ?? "unknown")
            var response = Imn_Dbos_V1_RegisterAgentResponse()
            response.agent = Imn_Dbos_V1_Agent(agent)
            response.new = new
            return response
        }
    }

    public func getAgent(request: Imn_Dbos_V1_GetAgentRequest, context: ServerContext) async throws -> Imn_Dbos_V1_Agent {
        try await handle("GetAgent") { () throws(DBOSError) in Imn_Dbos_V1_Agent(try await store.getAgent(id: request.id)) }
    }

    public func listAgents(request: Imn_Dbos_V1_ListAgentsRequest, context: ServerContext) async throws -> Imn_Dbos_V1_ListAgentsResponse {
        try await handle("ListAgents") { () throws(DBOSError) in
            let page = try await store.listAgents(
                seenSince: request.seenSinceMs > 0 ? request.seenSinceMs : nil, limit: Int(request.pageSize), cursor: Self.optional(request.cursor))
            var response = Imn_Dbos_V1_ListAgentsResponse()
            response.agents = page.items.map(Imn_Dbos_V1_Agent.init)
            response.nextCursor = page.nextCursor ?? ""
            return response
        }
    }

    // MARK: Module states

    public func setModuleState(request: Imn_Dbos_V1_SetModuleStateRequest, context: ServerContext) async throws -> Imn_Dbos_V1_ModuleState {
        try await handle("SetModuleState") { () throws(DBOSError) in
            let state = try await store.setModuleState(
                requestID: request.requestID, agentID: request.agentID, module: request.module, state: try Self.stateName(request.state),
                expectedVersion: request.expectedVersion, actor: Self.optional(request.actor) ?? "unknown", detail: request.detail)
            return Imn_Dbos_V1_ModuleState(state)
        }
    }

    public func getModuleState(request: Imn_Dbos_V1_GetModuleStateRequest, context: ServerContext) async throws -> Imn_Dbos_V1_ModuleState {
        try await handle("GetModuleState") { () throws(DBOSError) in
            Imn_Dbos_V1_ModuleState(try await store.getModuleState(requestID: request.requestID, withHistory: request.withHistory))
        }
    }

    public func listModuleStates(request: Imn_Dbos_V1_ListModuleStatesRequest, context: ServerContext) async throws
        -> Imn_Dbos_V1_ListModuleStatesResponse
    {
        try await handle("ListModuleStates") { () throws(DBOSError) in
            let state = try Self.optional(request.state).map { (name) throws(DBOSError) in try Self.stateName(name) }
            let page = try await store.listModuleStates(
                agentID: Self.optional(request.agentID), module: Self.optional(request.module), state: state, limit: Int(request.pageSize),
                cursor: Self.optional(request.cursor))
            var response = Imn_Dbos_V1_ListModuleStatesResponse()
            response.states = page.items.map(Imn_Dbos_V1_ModuleState.init)
            response.nextCursor = page.nextCursor ?? ""
            return response
        }
    }

    // MARK: Results

    public func storeResult(request: Imn_Dbos_V1_StoreResultRequest, context: ServerContext) async throws -> Imn_Dbos_V1_StoreResultResponse {
        try await handle("StoreResult") { () throws(DBOSError) in
            let (stored, duplicate) = try await store.storeResult(try request.result.stored())
            var response = Imn_Dbos_V1_StoreResultResponse()
            response.result = Imn_Dbos_V1_Result(stored)
            response.duplicate = duplicate
            return response
        }
    }

    public func getResult(request: Imn_Dbos_V1_GetResultRequest, context: ServerContext) async throws -> Imn_Dbos_V1_Result {
        try await handle("GetResult") { () throws(DBOSError) in Imn_Dbos_V1_Result(try await store.getResult(requestID: request.requestID)) }
    }

    public func listResults(request: Imn_Dbos_V1_ListResultsRequest, context: ServerContext) async throws -> Imn_Dbos_V1_ListResultsResponse {
        try await handle("ListResults") { () throws(DBOSError) in
            guard request.sinceMs >= 0, request.untilMs >= 0 else { throw DBOSError(.invalidArgument, "times must not be negative") }
            let range = TimeRange(since: request.sinceMs > 0 ? request.sinceMs : nil, until: request.untilMs > 0 ? request.untilMs : nil)
            let page = try await store.listResults(
                agentID: request.agentID, module: Self.optional(request.module), range: range, limit: Int(request.pageSize),
                cursor: Self.optional(request.cursor))
            var response = Imn_Dbos_V1_ListResultsResponse()
            response.results = page.items.map(Imn_Dbos_V1_Result.init)
            response.nextCursor = page.nextCursor ?? ""
            return response
        }
    }

    public func deleteResult(request: Imn_Dbos_V1_DeleteResultRequest, context: ServerContext) async throws -> Imn_Dbos_V1_DeleteResultResponse {
        try await handle("DeleteResult") { () throws(DBOSError) in
            var response = Imn_Dbos_V1_DeleteResultResponse()
            response.deleted = try await store.deleteResult(requestID: request.requestID, actor: Self.optional(request.actor) ?? "unknown")
            return response
        }
    }

    // MARK: Events

    public func getEvents(request: Imn_Dbos_V1_GetEventsRequest, context: ServerContext) async throws -> Imn_Dbos_V1_GetEventsResponse {
        try await handle("GetEvents") { () throws(DBOSError) in
            let page = try await store.events(limit: Int(request.pageSize), cursor: Self.optional(request.cursor))
            var response = Imn_Dbos_V1_GetEventsResponse()
            response.events = page.items.map(Imn_Dbos_V1_Event.init)
            response.nextCursor = page.nextCursor ?? ""
            return response
        }
    }
}
