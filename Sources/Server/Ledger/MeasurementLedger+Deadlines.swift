import DBOS
import Foundation
import GRPCCore
import IMNCore

// Nothing stays unfinished: every measurement is created with a once-task `dl_<measurement>`
// due `stuckAfter` later; the scheduler loop claims it (a lease: with several servers one of them
// does) and the ledger fails the runs still created, started or running — their agent died
// mid-run, or the server died before sending the command. A result that turns up later is still
// stored; the state stays failed.
extension MeasurementLedger {
    /// The payload of a measurement's deadline task. Older deadlines name one request instead.
    struct Deadline: Codable {
        var measurementID: String?
        var requestID: String?

        enum CodingKeys: String, CodingKey {
            case measurementID = "measurement_id"
            case requestID = "request_id"
        }
    }

    /// Runs a claimed deadline task: fails the measurement's runs that are still unfinished. True
    /// when the task is done with (acknowledge it); false to look again shortly.
    func expire(_ task: Imn_Dbos_V1_Task) async -> Bool {
        guard let deadline = try? JSONDecoder().decode(Deadline.self, from: task.payload) else { return true }
        var states: [Imn_Dbos_V1_ModuleState]
        do {
            if let id = deadline.measurementID {
                var request = Imn_Dbos_V1_GetMeasurementRequest()
                request.id = id
                states = try await dbos.getMeasurement(request).states
            } else if let id = deadline.requestID {
                states = [try await dbos.getModuleState(.init(requestID: id))]
            } else {
                return true
            }
        } catch let error as RPCError where error.code == .notFound {
            return true  // never created, or deleted
        } catch {
            return false
        }
        let seconds = Int(stuckAfter / .seconds(1))
        let unfinished = states.compactMap { state -> Imn_Dbos_V1_ModuleState? in
            guard ModuleStateName(rawValue: state.state)?.isTerminal == false else { return nil }
            var failing = state
            failing.detail = "no result within \(seconds) s (state \(state.state)): the agent or the server stopped mid-request"
            return failing
        }
        guard !unfinished.isEmpty else { return true }
        let applied = await fail(unfinished)
        for _ in unfinished { metrics.requestExpired() }
        return applied
    }
}
