import Foundation
import RedisClient

extension DBOSStore {
    /// Creates (`expectedVersion` 0, state `created`) or moves a module state. The update names the
    /// version it read: a mismatch throws `aborted` with the current state; a transition outside
    /// the fixed order throws `failedPrecondition`. Check and write are one script.
    public func setModuleState(
        requestID: String, agentID: String, module: String, state: ModuleStateName, expectedVersion: Int64,
        actor: String, detail: String = ""
    ) async throws(DBOSError) -> ModuleState {
        let change = ModuleStateChange(
            requestID: requestID, agentID: agentID, module: module, state: state, expectedVersion: expectedVersion, actor: actor, detail: detail)
        let call = try stateCall(change)
        return try Self.stateOutcome(try await run(StateScripts.set, keys: call.keys, arguments: call.arguments), change)
    }

    /// Many ``setModuleState(requestID:agentID:module:state:expectedVersion:actor:detail:)`` calls
    /// in one Redis round trip, applied in order; each outcome at its change's position (an item
    /// that failed before, e.g. in decoding, keeps its error).
    public func setModuleStates(_ changes: [Result<ModuleStateChange, DBOSError>]) async -> [Result<ModuleState, DBOSError>] {
        await runBatch(StateScripts.set, changes.map { $0.flatMap { change in Result { () throws(DBOSError) in try stateCall(change) } } }) {
            (reply, index) throws(DBOSError) in
            guard case .success(let change) = changes[index] else { throw DBOSError(.internalError, "no change at \(index)") }
            return try Self.stateOutcome(reply, change)
        }
    }

    func stateCall(_ change: ModuleStateChange) throws(DBOSError) -> RedisScriptCall {
        try Self.validateID(change.requestID, "request id")
        try Self.validateID(change.agentID, "agent id")
        try Self.validateID(change.module, "module")
        guard change.expectedVersion >= 0 else { throw DBOSError(.invalidArgument, "expected version must not be negative") }
        guard change.detail.utf8.count <= 64 * 1024 else { throw DBOSError(.invalidArgument, "detail is longer than 64 KiB") }
        return RedisScriptCall(
            keys: [keys.state(change.requestID), keys.stateLog(change.requestID), keys.states, keys.events],
            arguments: [
                RedisArgument(change.requestID), RedisArgument(change.agentID), RedisArgument(change.module), RedisArgument(change.state.rawValue),
                RedisArgument(change.expectedVersion), RedisArgument(change.actor), RedisArgument(change.detail),
                RedisArgument(configuration.maxEvents),
            ])
    }

    static func stateOutcome(_ reply: RedisReply, _ change: ModuleStateChange) throws(DBOSError) -> ModuleState {
        guard let parts = reply.array, parts.count == 2, let outcome = parts[0].text else {
            throw DBOSError(.internalError, "unexpected reply from the state script: \(reply)")
        }
        let current = Self.moduleState(from: parts[1].hash)
        switch outcome {
        case "ok":
            guard let current else { throw DBOSError(.internalError, "state script returned no state") }
            return current
        case "aborted":
            throw DBOSError(
                .aborted, "version conflict on \(change.requestID): expected \(change.expectedVersion), current is \(current?.version ?? 0)",
                currentState: current)
        case "illegal":
            let from = current.map { "\($0.state.rawValue)" } ?? "nothing"
            throw DBOSError(
                .failedPrecondition, "illegal transition \(from) → \(change.state.rawValue) for \(change.requestID)", currentState: current)
        case "notfound":
            throw DBOSError(.notFound, "no state for request \(change.requestID)")
        default:
            throw DBOSError(.internalError, "unexpected outcome \(outcome) from the state script")
        }
    }

    public func getModuleState(requestID: String, withHistory: Bool = true) async throws(DBOSError) -> ModuleState {
        try Self.validateID(requestID, "request id")
        let replies = try await pipeline([
            RedisCommand("HGETALL", keys.state(requestID)),
            RedisCommand("LRANGE", keys.stateLog(requestID), 0, -1),
        ])
        guard var state = Self.moduleState(from: replies[0].hash) else {
            throw DBOSError(.notFound, "no state for request \(requestID)")
        }
        if withHistory {
            let decoder = JSONDecoder()
            state.history = (replies[1].array ?? []).compactMap {
                $0.bytes.flatMap { try? decoder.decode(ModuleStateTransition.self, from: Data($0)) }
            }
        }
        return state
    }

    /// States by creation time, oldest first, filtered; `cursor` continues a previous page.
    public func listModuleStates(
        agentID: String? = nil, module: String? = nil, state: ModuleStateName? = nil, limit: Int = 0, cursor: String? = nil
    ) async throws(DBOSError) -> Page<ModuleState> {
        let limit = try pageSize(limit)
        return try await page(index: keys.states, range: TimeRange(), cursor: cursor, limit: limit) { ids throws(DBOSError) in
            let replies = try await pipeline(ids.map { RedisCommand("HGETALL", keys.state($0)) })
            return replies.map { Self.moduleState(from: $0.hash) }.map { candidate in
                guard let candidate else { return nil }
                if let agentID, candidate.agentID != agentID { return nil }
                if let module, candidate.module != module { return nil }
                if let state, candidate.state != state { return nil }
                return candidate
            }
        }
    }

    static func moduleState(from fields: [String: [UInt8]]) -> ModuleState? {
        guard !fields.isEmpty, let state = ModuleStateName(rawValue: fields.text("state")) else { return nil }
        return ModuleState(
            requestID: fields.text("request_id"), agentID: fields.text("agent_id"), module: fields.text("module"), state: state,
            version: fields.int("version"), createdAtMilliseconds: fields.int("created_ms"), updatedAtMilliseconds: fields.int("updated_ms"),
            actor: fields.text("actor"), detail: fields.text("detail"))
    }
}

/// One change of a module state, as ``DBOSStore/setModuleStates(_:)`` takes it.
public struct ModuleStateChange: Sendable {
    public var requestID: String
    public var agentID: String
    public var module: String
    public var state: ModuleStateName
    /// The version the caller read; 0 creates the state.
    public var expectedVersion: Int64
    public var actor: String
    public var detail: String

    public init(
        requestID: String, agentID: String, module: String, state: ModuleStateName, expectedVersion: Int64, actor: String, detail: String = ""
    ) {
        self.requestID = requestID
        self.agentID = agentID
        self.module = module
        self.state = state
        self.expectedVersion = expectedVersion
        self.actor = actor
        self.detail = detail
    }
}
