import Foundation
import SwiftProtobuf

// Conversions between the store's Swift values and the generated messages.

extension Imn_Dbos_V1_GetModuleStateRequest {
    /// Asks for the state of `requestID`.
    public init(requestID: String) {
        self.init()
        self.requestID = requestID
    }
}

extension Imn_Dbos_V1_ModuleState {
    init(_ state: ModuleState) {
        self.init()
        requestID = state.requestID
        agentID = state.agentID
        module = state.module
        self.state = state.state.rawValue
        version = state.version
        createdMs = state.createdAtMilliseconds
        updatedMs = state.updatedAtMilliseconds
        actor = state.actor
        detail = state.detail
        history = state.history.map { transition in
            var message = Imn_Dbos_V1_Transition()
            message.from = transition.from?.rawValue ?? ""
            message.to = transition.to.rawValue
            message.version = transition.version
            message.atMs = transition.atMilliseconds
            message.actor = transition.actor
            message.detail = transition.detail
            return message
        }
    }
}

extension Imn_Dbos_V1_Result {
    init(_ result: StoredResult) {
        self.init()
        requestID = result.requestID
        agentID = result.agentID
        module = result.module
        status = result.status.rawValue
        payload = Data(result.payload)
        startedMs = result.startedAtMilliseconds
        finishedMs = result.finishedAtMilliseconds
        metadata.receivedAtMs = result.metadata.receivedAtMilliseconds
        metadata.agentStartTimeMs = result.metadata.agentStartTimeMilliseconds
        metadata.agentRuntimeVersion = result.metadata.agentRuntimeVersion
        metadata.moduleRevision = result.metadata.moduleRevision
        metadata.dbosServerID = result.metadata.dbosServerID
        metadata.ingestSource = result.metadata.ingestSource
    }

    func stored() throws(DBOSError) -> StoredResult {
        guard let status = ModuleStateName(rawValue: status) else {
            throw DBOSError(.invalidArgument, "unknown result status \"\(status)\" (completed, error or failed)")
        }
        var result = StoredResult(requestID: requestID, agentID: agentID, module: module, status: status, payload: Array(payload))
        result.startedAtMilliseconds = startedMs
        result.finishedAtMilliseconds = finishedMs
        result.metadata.agentStartTimeMilliseconds = metadata.agentStartTimeMs
        result.metadata.agentRuntimeVersion = metadata.agentRuntimeVersion
        result.metadata.moduleRevision = metadata.moduleRevision
        result.metadata.ingestSource = metadata.ingestSource
        return result
    }
}

extension Imn_Dbos_V1_Task {
    init(_ task: ScheduledTask) {
        self.init()
        id = task.id
        switch task.kind {
        case .once: kind = "once"
        case .interval(let milliseconds): (kind, intervalMs) = ("interval", milliseconds)
        case .cron(let expression): (kind, cron) = ("cron", expression)
        }
        payload = Data(task.payload)
        state = task.state.rawValue
        dueMs = task.dueAtMilliseconds
        endMs = task.endAtMilliseconds
        deliveries = Int32(clamping: task.deliveries)
        maxDeliveries = Int32(clamping: task.maxDeliveries)
        visibilityTimeoutMs = task.visibilityTimeoutMilliseconds
        leaseToken = task.leaseToken
        leaseDeadlineMs = task.leaseDeadlineMilliseconds
        owner = task.owner
        runs = Int32(clamping: task.runs)
        lastError = task.lastError
        createdMs = task.createdAtMilliseconds
        updatedMs = task.updatedAtMilliseconds
    }
}

extension Imn_Dbos_V1_Agent {
    init(_ agent: AgentRecord) {
        self.init()
        id = agent.id
        info = Data(agent.info)
        firstSeenMs = agent.firstSeenMilliseconds
        lastSeenMs = agent.lastSeenMilliseconds
    }
}

extension Imn_Dbos_V1_Event {
    init(_ event: DBOSEvent) {
        self.init()
        id = event.id
        kind = event.kind
        subject = event.subject
        actor = event.actor
        atMs = event.atMilliseconds
        detail = event.detail
    }
}
