import Foundation
import Hummingbird
import IMNCore
import NATSClient

/// POST /agents/{agent_id}/modules/{module}/enable|disable|reload, sent to the agent on
/// `imn.ctl.<agent>` (request/reply).
extension MeasurementAPI {
    static let controlActions: Set<String> = ["enable", "disable", "reload"]

    func control(agentID: String, module: String, action: String) async throws -> Response {
        guard Self.controlActions.contains(action) else {
            throw Problem(status: .notFound, title: "Unknown action", detail: "\(action): use enable, disable or reload")
        }
        guard let entry = registry.entry(agentID) else {
            throw Problem(status: .notFound, title: "Unknown agent", detail: "no agent \(agentID) has sent a heartbeat")
        }
        guard entry.heartbeat.modules.contains(where: { $0.name == module }) else {
            throw Problem(status: .notFound, title: "Unknown module", detail: "agent \(agentID) has no module \(module)")
        }
        let body: JSONValue = ["action": .string(action), "module": .string(module)]
        let reply: NATSMessage
        do {
            reply = try await connection.request(Subjects.control(agent: agentID), payload: body.bytes, timeout: .seconds(5))
        } catch {
            throw Problem(status: .serviceUnavailable, title: "Agent unreachable", detail: "\(error.code): \(error.message)")
        }
        guard let answer = JSONValue(parsing: reply.payload)?.objectValue, let ok = answer["ok"]?.boolValue else {
            throw Problem(status: .badGateway, title: "Unreadable agent reply", detail: "the agent's control reply is not {ok, message}")
        }
        let message = answer["message"]?.stringValue ?? ""
        guard ok else { throw Problem(status: .conflict, title: "Refused by the agent", detail: message) }
        return Problem.json(["agent_id": .string(agentID), "module": .string(module), "action": .string(action), "message": .string(message)])
    }
}
