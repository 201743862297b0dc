import DBOS
import Foundation
import GRPCCore
import IMNCore

/// No request stays unfinished forever. With every measurement the server schedules a one-off
/// DBOS task `dl_<request id>` due `stuckAfter` later; the scheduler loop claims it (a lease:
/// with several servers one of them does) and, if the request is still created, started or
/// running — its agent died mid-run, or the server died before sending the command — marks it
/// `failed` saying so. A result that turns up later is still stored; the state stays `failed`.
extension MeasurementAPI {
    static let deadlinePrefix = "dl_"

    struct Deadline: Codable {
        var requestID: String
        var agentID: String
        var module: String

        enum CodingKeys: String, CodingKey {
            case requestID = "request_id"
            case agentID = "agent_id"
            case module
        }
    }

    /// Schedules the check (the same request again schedules nothing new: the task id is fixed).
    func scheduleDeadline(requestID: String, agentID: String, module: String) async throws {
        var task = Imn_Dbos_V1_ScheduleTaskRequest()
        task.id = Self.deadlinePrefix + requestID
        task.kind = "once"
        task.startMs = Int64(Date().timeIntervalSince1970 * 1000) + Int64(stuckAfter / .milliseconds(1))
        task.payload = try JSONEncoder().encode(Deadline(requestID: requestID, agentID: agentID, module: module))
        task.actor = actor
        task.ephemeral = true
        // Looked at again with a growing delay while DBOS is away (Scheduler), for minutes, not seconds.
        task.maxDeliveries = 20
        _ = try await dbos.scheduleTask(task)
    }

    /// Runs a claimed deadline task: fails the request if it is still unfinished. True when the
    /// task is done with (acknowledge it); false to look again shortly (a transition raced us).
    func expire(_ task: Imn_Dbos_V1_Task) async -> Bool {
        guard let deadline = try? JSONDecoder().decode(Deadline.self, from: task.payload) else { return true }
        let get = Imn_Dbos_V1_GetModuleStateRequest(requestID: deadline.requestID)
        let current: Imn_Dbos_V1_ModuleState
        do {
            current = try await dbos.getModuleState(get)
        } catch let error as RPCError where error.code == .notFound {
            return true  // never created, or deleted
        } catch {
            return false
        }
        guard ModuleStateName(rawValue: current.state)?.isTerminal == false else { return true }
        var set = Imn_Dbos_V1_SetModuleStateRequest()
        set.requestID = deadline.requestID
        set.agentID = current.agentID
        set.module = current.module
        set.state = "failed"
        set.expectedVersion = current.version
        set.actor = actor
        set.detail =
            "no result within \(Int(stuckAfter / .seconds(1))) s (state \(current.state)): the agent or the server stopped mid-request"
        do {
            _ = try await dbos.setModuleState(set)
        } catch {
            return false  // moved meanwhile (or DBOS is away): check again
        }
        metrics.requestExpired()
        LiveStateEvent(
            id: deadline.requestID, agentID: current.agentID, module: current.module, state: "failed", atMilliseconds: Date.nowMilliseconds,
            error: set.detail
        ).announce(on: connection)
        return true
    }
}
