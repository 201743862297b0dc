import DBOS
import Foundation
import GRPCCore
import Hummingbird
import IMNCore

// Read-only routes over DBOS: results, states with history, the audit log.
extension MeasurementAPI {
    func agents(alive: Bool) -> Response {
        Problem.json(.array(registry.all.filter { registry.isAlive($0) == alive }.map(describe)))
    }

    static func json(_ result: Imn_Dbos_V1_Result) -> JSONValue {
        [
            "id": .string(result.requestID), "agent_id": .string(result.agentID), "module": .string(result.module),
            "state": .string(result.status), "result": JSONValue(parsing: Array(result.payload)) ?? .null,
            "received_at_ms": .number(Double(result.metadata.receivedAtMs)), "started_at_ms": .number(Double(result.startedMs)),
            "finished_at_ms": .number(Double(result.finishedMs)),
        ]
    }

    /// GET /agents/{agent_id}/results?limit&cursor&since&until&module
    func results(agentID: String, query: [String: String]) async throws -> Response {
        var request = Imn_Dbos_V1_ListResultsRequest()
        request.agentID = agentID
        request.module = query["module"] ?? ""
        request.cursor = query["cursor"] ?? ""
        request.pageSize = try Self.pageSize(query)
        request.sinceMs = try Self.milliseconds(query["since"], "since") ?? 0
        request.untilMs = try Self.milliseconds(query["until"], "until") ?? 0
        if request.untilMs > 0 && request.sinceMs > request.untilMs && (request.cursor.isEmpty || PageCursor(request.cursor) != nil) {
            return Problem.json(["results": [], "next_cursor": .null])  // a range that holds nothing
        }
        let page = try await call { try await dbos.listResults(request) }
        return Problem.json([
            "results": .array(page.results.map(Self.json)), "next_cursor": page.nextCursor.isEmpty ? .null : .string(page.nextCursor),
        ])
    }

    /// DELETE /agents/{agent_id}/results/{request_id}
    func deleteResult(agentID: String, requestID: String) async throws -> Response {
        _ = try await result(agentID: agentID, requestID: requestID)  // 404 when it is not this agent's
        var request = Imn_Dbos_V1_DeleteResultRequest()
        request.requestID = requestID
        request.actor = actor
        _ = try await call { try await dbos.deleteResult(request) }
        return Response(status: .noContent)
    }

    /// GET /modules/states?agent&module&state&limit&cursor
    func states(query: [String: String]) async throws -> Response {
        var request = Imn_Dbos_V1_ListModuleStatesRequest()
        request.agentID = query["agent"] ?? query["agent_id"] ?? ""
        request.module = query["module"] ?? ""
        request.state = query["state"] ?? ""
        guard query["state"] == nil || ModuleStateName(rawValue: request.state) != nil else {
            let names = ModuleStateName.allCases.map(\.rawValue).sorted().joined(separator: ", ")
            throw Problem(status: .badRequest, title: "Bad query parameter", detail: "state must be one of \(names)")
        }
        request.cursor = query["cursor"] ?? ""
        request.pageSize = try Self.pageSize(query)
        let page = try await call { try await dbos.listModuleStates(request) }
        return Problem.json([
            "states": .array(page.states.map(Self.json)), "next_cursor": page.nextCursor.isEmpty ? .null : .string(page.nextCursor),
        ])
    }

    static func json(_ state: Imn_Dbos_V1_ModuleState) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(state.requestID), "agent_id": .string(state.agentID), "module": .string(state.module), "state": .string(state.state),
            "version": .number(Double(state.version)), "created_at_ms": .number(Double(state.createdMs)),
            "updated_at_ms": .number(Double(state.updatedMs)), "detail": state.detail.isEmpty ? .null : .string(state.detail),
        ]
        if !state.history.isEmpty {
            object["history"] = .array(
                state.history.map {
                    [
                        "from": $0.from.isEmpty ? .null : .string($0.from), "to": .string($0.to), "at_ms": .number(Double($0.atMs)),
                        "actor": .string($0.actor), "detail": $0.detail.isEmpty ? .null : .string($0.detail),
                    ]
                })
        }
        return .object(object)
    }

    /// GET /modules/states/{request_id}: the state with its transition history.
    func state(requestID: String) async throws -> Response {
        try Self.requireExistingForm(requestID)
        await ledger.ingesting.settled(requestID)  // answered from JetStream, DBOS write in flight
        var request = Imn_Dbos_V1_GetModuleStateRequest(requestID: requestID)
        request.withHistory = true
        let state = try await call { try await dbos.getModuleState(request) }
        return Problem.json(Self.json(state))
    }

    /// GET /events?limit&cursor
    func events(query: [String: String]) async throws -> Response {
        var request = Imn_Dbos_V1_GetEventsRequest()
        request.pageSize = try Self.pageSize(query)
        request.cursor = query["cursor"] ?? ""
        let page = try await call { try await dbos.events(request) }
        return Problem.json([
            "events": .array(
                page.events.map {
                    [
                        "id": .string($0.id), "kind": .string($0.kind), "subject": .string($0.subject), "actor": .string($0.actor),
                        "at_ms": .number(Double($0.atMs)),
                    ]
                }),
            "next_cursor": page.nextCursor.isEmpty ? .null : .string(page.nextCursor),
        ])
    }

    /// A DBOS call with its gRPC errors turned into problems.
    func call<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RPCError {
            switch error.code {
            case .notFound: throw Problem(status: .notFound, title: "Not found", detail: error.message)
            case .invalidArgument: throw Problem(status: .badRequest, title: "Bad request", detail: error.message)
            default: throw Problem(status: .serviceUnavailable, title: "State service unavailable", detail: error.message)
            }
        }
    }

    /// A request id no request can have (too long, or not a subject token) is simply not there:
    /// 404, as for any other unknown id.
    static func requireExistingForm(_ requestID: String) throws {
        guard Subjects.isValidRequestID(requestID) else {
            throw Problem(status: .notFound, title: "Not found", detail: "no request with that id")
        }
    }

    /// `limit`: 0 (or absent) is the default page size; at most 1000.
    static func pageSize(_ query: [String: String]) throws -> Int32 {
        let limit = try integer(query["limit"], "limit") ?? 0
        guard limit <= 1000 else {
            throw Problem(status: .badRequest, title: "Bad query parameter", detail: "limit must be at most 1000, got \(limit)")
        }
        return Int32(limit)
    }

    /// A time as ms since 1970, at most the end of year 9999 (as the OpenAPI document says).
    static func milliseconds(_ text: String?, _ name: String) throws -> Int64? {
        guard let value = try integer(text, name) else { return nil }
        guard value <= 253_402_300_799_999 else {
            throw Problem(status: .badRequest, title: "Bad query parameter", detail: "\(name) is after the year 9999, got \(value)")
        }
        return value
    }

    static func integer(_ text: String?, _ name: String) throws -> Int64? {
        guard let text else { return nil }
        guard let value = Int64(text), value >= 0 else {
            throw Problem(status: .badRequest, title: "Bad query parameter", detail: "\(name) must be a whole number ≥ 0, got \"\(text)\"")
        }
        return value
    }
}
