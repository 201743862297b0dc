import DBOS
import Foundation
import GRPCCore
import Hummingbird
import IMNCore
import NATSClient

/// The REST routes (paths of the earlier prototype kept).
struct MeasurementAPI: Sendable {
    let registry: AgentRegistry
    let connection: NATSConnection
    let dbos: DBOSClient
    let actor: String
    let started = Date()

    func status() -> Response {
        let all = registry.all
        return Problem.json([
            "agents_total": .number(Double(all.count)), "agents_alive": .number(Double(all.filter(registry.isAlive).count)),
            "version": .string(IMNVersion.current), "uptime_seconds": .number(Date().timeIntervalSince(started).rounded()),
        ])
    }

    func agents() -> Response {
        Problem.json(.array(registry.all.map(describe)))
    }

    func describe(_ entry: AgentRegistry.Entry) -> JSONValue {
        let heartbeat = (try? JSONValue(parsing: JSONEncoder().encode(entry.heartbeat))) ?? .null
        var object = heartbeat.objectValue ?? [:]
        object["alive"] = .bool(registry.isAlive(entry))
        object["seconds_since_heartbeat"] = .number(((ContinuousClock.now - entry.lastSeen).secondsValue * 10).rounded() / 10)
        return .object(object)
    }

    /// POST /agent/{agent_id}/{module}[?wait=seconds]
    func trigger(agentID: String, module: String, body: [UInt8], idempotencyKey: String?, wait: Double?) async throws -> Response {
        guard let entry = registry.entry(agentID) else {
            throw Problem(status: .notFound, title: "Unknown agent", detail: "no agent \(agentID) has sent a heartbeat")
        }
        guard registry.isAlive(entry) else {
            throw Problem(
                status: .conflict, title: "Agent not alive", detail: "agent \(agentID) has not been heard for more than \(registry.timeout)")
        }
        guard let spec = entry.heartbeat.modules.first(where: { $0.name == module }) else {
            throw Problem(status: .notFound, title: "Unknown module", detail: "agent \(agentID) has no module \(module)")
        }
        guard let input = JSONValue(parsing: body.isEmpty ? Array("{}".utf8) : body) else {
            throw Problem(status: .badRequest, title: "Malformed JSON", detail: "the body is not JSON")
        }
        let violations = JSONSchema(spec.inputSchema).validate(input)
        guard violations.isEmpty else {
            throw Problem(
                status: .unprocessableContent, title: "Invalid input", detail: "the body does not match \(module)'s input schema", errors: violations)
        }
        let requestID = idempotencyKey ?? UUID().uuidString.lowercased()
        guard Subjects.isValidToken(requestID), requestID.utf8.count <= 256 else {
            throw Problem(status: .badRequest, title: "Bad Idempotency-Key", detail: "1–256 characters without spaces, dots, * or >")
        }
        var create = Imn_Dbos_V1_SetModuleStateRequest()
        create.requestID = requestID
        create.agentID = agentID
        create.module = module
        create.state = "created"
        create.actor = actor
        do {
            _ = try await dbos.setModuleState(create)
        } catch let error as RPCError where error.code == .aborted {
            // The same key again: the same request, never run twice.
            return try await respond(requestID: requestID, agentID: agentID, module: module, wait: wait)
        } catch let error as RPCError {
            throw Problem(status: .serviceUnavailable, title: "State service unavailable", detail: error.message)
        }
        let command = CommandRequest(requestID: requestID, input: JSONSchema(spec.inputSchema).applyingDefaults(to: input))
        do {
            let reply = try await connection.request(
                Subjects.command(agent: agentID, module: module), payload: Array(try JSONEncoder().encode(command)), timeout: .seconds(5))
            let answer = try JSONDecoder().decode(CommandReply.self, from: Data(reply.payload))
            if answer.status == .rejected {
                try? await fail(requestID, agentID: agentID, module: module, detail: answer.message ?? "rejected")
                let status: HTTPResponse.Status = answer.reason == .invalidInput ? .unprocessableContent : .conflict
                throw Problem(status: status, title: "Rejected by the agent", detail: answer.message ?? "", errors: answer.violations ?? [])
            }
        } catch let error as NATSError {
            try? await fail(requestID, agentID: agentID, module: module, detail: "\(error)")
            throw Problem(status: .serviceUnavailable, title: "Agent unreachable", detail: "\(error.code): \(error.message)")
        }
        return try await respond(requestID: requestID, agentID: agentID, module: module, wait: wait)
    }

    func fail(_ requestID: String, agentID: String, module: String, detail: String) async throws {
        var set = Imn_Dbos_V1_SetModuleStateRequest()
        set.requestID = requestID
        set.agentID = agentID
        set.module = module
        set.state = "failed"
        set.expectedVersion = 1
        set.actor = actor
        set.detail = detail
        _ = try await dbos.setModuleState(set)
    }

    /// 202 with the current state, or (with `wait`) 200 with the result once terminal.
    func respond(requestID: String, agentID: String, module: String, wait: Double?) async throws -> Response {
        let deadline = ContinuousClock.now + .milliseconds(Int64(min(max(wait ?? 0, 0), 60) * 1000))
        var get = Imn_Dbos_V1_GetModuleStateRequest()
        get.requestID = requestID
        while true {
            let state = try await dbos.getModuleState(get)
            let terminal = ["completed", "error", "failed"].contains(state.state)
            if terminal && wait != nil {
                var request = Imn_Dbos_V1_GetResultRequest()
                request.requestID = requestID
                let result = try? await dbos.getResult(request)
                return Problem.json([
                    "id": .string(requestID), "agent_id": .string(agentID), "module": .string(module), "state": .string(state.state),
                    "result": result.flatMap { JSONValue(parsing: Array($0.payload)) } ?? .null,
                    "links": ["self": .string("/agents/\(agentID)/results/\(requestID)")],
                ])
            }
            if wait == nil || ContinuousClock.now >= deadline {
                return Problem.json(
                    [
                        "id": .string(requestID), "agent_id": .string(agentID), "module": .string(module), "state": .string(state.state),
                        "links": ["result": .string("/agents/\(agentID)/results/\(requestID)")],
                    ], status: .accepted)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// GET /agents/{agent_id}/results/{request_id}
    func result(agentID: String, requestID: String) async throws -> Response {
        var request = Imn_Dbos_V1_GetResultRequest()
        request.requestID = requestID
        do {
            let result = try await dbos.getResult(request)
            guard result.agentID == agentID else {
                throw Problem(status: .notFound, title: "Not found", detail: "no result \(requestID) for \(agentID)")
            }
            return Problem.json(Self.json(result))
        } catch let error as RPCError where error.code == .notFound {
            throw Problem(status: .notFound, title: "Not found", detail: "no result \(requestID)")
        }
    }
}

extension Duration {
    var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
