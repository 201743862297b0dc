import DBOS
import GRPCCore
import IMNCore

// Runs move as their agents report: the ingestion hands each run's furthest message here.
extension MeasurementLedger {
    /// Brings the stored state of `result`'s run up to `result.state`, applying skipped states in
    /// order, in one SetModuleStates call shared with other runs advancing at the same time. It writes without reading first: the usual case is
    /// the state just before (the run was created at version 1, then each transition adds one), and
    /// a conflict hands back the current state to continue from. Returns the state stored when
    /// this call reached `result.state`; nil when it was there already or past it.
    @discardableResult
    func advance(_ result: ResultMessage) async throws -> Imn_Dbos_V1_ModuleState? {
        guard let target = ModuleStateName(rawValue: result.state) else { return nil }
        let guessed = stored.withLock { $0[result.requestID] }
        var state: ModuleStateName? = guessed?.state ?? .created
        var version = guessed?.version ?? 1
        for _ in 0..<10 {
            let path = Self.path(from: state, to: target)
            if path.isEmpty { return nil }  // already there (a duplicate) or past it (late)
            var request = Imn_Dbos_V1_SetModuleStatesRequest()
            request.items = path.enumerated().map { offset, next in
                var set = Imn_Dbos_V1_SetModuleStateRequest()
                set.requestID = result.requestID
                set.agentID = result.agentID
                set.module = result.module
                set.state = next.rawValue
                set.expectedVersion = version + Int64(offset)
                set.actor = actor
                set.detail = next == target ? (result.error ?? "") : ""
                return set
            }
            // With other runs' states in one call (group commit): a measurement's runs end together.
            let outcomes = try await dbos.setModuleStatesInBatch(request).items
            var conflict: Imn_Dbos_V1_ItemStatus?
            for outcome in outcomes {
                if outcome.hasStatus && outcome.status.code != 0 {
                    conflict = outcome.status
                    break
                }
                (state, version) = (ModuleStateName(rawValue: outcome.state.state), outcome.state.version)
                remember(result.requestID, state: state, version: version)
                if state == target { return outcome.state }
            }
            guard let conflict else { throw RPCError(code: .internalError, message: "DBOS answered fewer states than it was sent") }
            let code = Status.Code(rawValue: Int(conflict.code))
            switch code {
            case .aborted?, .failedPrecondition?, .notFound?:
                // Someone else moved it, or it is not there yet: continue from what is stored.
                let current: Imn_Dbos_V1_ModuleState?
                if code == .notFound {
                    current = nil
                } else if conflict.hasCurrent {
                    current = conflict.current
                } else {
                    let get = Imn_Dbos_V1_GetModuleStateRequest(requestID: result.requestID)
                    do { current = try await dbos.getModuleState(get) } catch let error as RPCError where error.code == .notFound { current = nil }
                }
                (state, version) = (current.flatMap { ModuleStateName(rawValue: $0.state) }, current?.version ?? 0)
            default:
                throw DBOSClient.rpcError(conflict)
            }
        }
        return nil
    }

    /// The states from `state` to `target` in the fixed order, `target` included: empty when
    /// `state` is there already or past it; nil (nothing stored) starts at created; failed may
    /// end any state directly.
    static func path(from state: ModuleStateName?, to target: ModuleStateName) -> [ModuleStateName] {
        var path: [ModuleStateName] = []
        var current = state
        while (current?.step ?? -1) < target.step, path.count < 5 {
            let next: ModuleStateName
            switch current {
            case nil: next = .created
            case _? where target == .failed: next = .failed
            case let current? where current.step == 2: next = target
            case let current?: next = ModuleStateName.allCases[current.step + 1]
            }
            path.append(next)
            current = next
        }
        return path
    }

    func remember(_ requestID: String, state: ModuleStateName?, version: Int64) {
        stored.withLock { stored in
            guard let state, !state.isTerminal else {
                stored[requestID] = nil
                return
            }
            if stored.count > 10_000 { stored.removeAll(keepingCapacity: true) }
            stored[requestID] = (state, version)
        }
    }
}
