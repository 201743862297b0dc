import DBOS
import Foundation
import GRPCCore
import Hummingbird
import IMNCore

/// What a schedule runs, kept as the payload of its DBOS task.
struct ScheduleSpec: Codable, Sendable {
    var agents: [String]
    var module: String
    var input: JSONValue
    /// `{locations, limit}` when the agents are chosen by location at each run (then `agents` is empty).
    var selection: JSONValue?
}

/// POST/GET/DELETE /schedules: recurring measurements stored as DBOS tasks (ids `sch_…`), run by
/// ``Scheduler``.
extension MeasurementAPI {
    static let schedulePrefix = "sch_"

    /// POST /schedules `{agents | agent_id | locations (+ limit), module, input, interval_seconds | cron, start, end, id}`
    func createSchedule(body: [UInt8]) async throws -> Response {
        guard let json = JSONValue(parsing: body), let fields = json.objectValue else {
            throw Problem(status: .badRequest, title: "Malformed JSON", detail: "the body must be a JSON object")
        }
        var errors: [SchemaViolation] = []
        func violation(_ pointer: String, _ keyword: String, _ message: String) {
            errors.append(SchemaViolation(pointer: pointer, keyword: keyword, message: message))
        }
        let known: Set<String> = ["agents", "agent_id", "locations", "limit", "module", "input", "interval_seconds", "cron", "start", "end", "id"]
        for name in fields.keys.sorted() where !known.contains(name) { violation("/\(name)", "additionalProperties", "unknown field") }
        var agents = fields["agents"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if let one = fields["agent_id"]?.stringValue { agents.append(one) }
        var selection: JSONValue?
        var locations: [AgentSelection.Location] = []
        var limit: Int?
        if fields["locations"] != nil {
            if !agents.isEmpty { violation("/locations", "oneOf", "give agents or locations, not both") }
            let (parsed, problems) = AgentSelection.parse(fields.filter { $0.key == "locations" || $0.key == "limit" })
            errors += problems
            if case .locations(let given, let overall)? = parsed?.who { (locations, limit) = (given, overall) }
            selection = .object(fields.filter { $0.key == "locations" || $0.key == "limit" })
        } else if agents.isEmpty {
            violation("/agents", "required", "name at least one agent (agents: [...] or agent_id) or give locations")
        }
        let module = fields["module"]?.stringValue ?? ""
        if module.isEmpty { violation("/module", "required", "the module to run") }
        let interval = fields["interval_seconds"]?.numberValue
        let cron = fields["cron"]?.stringValue
        switch (interval, cron) {
        case (nil, nil): violation("/interval_seconds", "required", "give interval_seconds or cron")
        case (.some, .some): violation("/cron", "oneOf", "give interval_seconds or cron, not both")
        case (.some(let seconds), nil) where seconds < 0.5 || seconds > 366 * 86_400:
            violation("/interval_seconds", "minimum", "between 0.5 and 31622400")
        default: break
        }
        let start = try Self.time(fields["start"], "/start", &errors)
        let end = try Self.time(fields["end"], "/end", &errors)
        if let start, let end, end <= start { violation("/end", "exclusiveMinimum", "must be after start") }
        let id = fields["id"]?.stringValue.map { Self.schedulePrefix + $0 } ?? Self.schedulePrefix + UUID().uuidString.lowercased()
        if !Subjects.isValidToken(id) { violation("/id", "pattern", "no spaces, dots, * or >") }
        guard errors.isEmpty else {
            throw Problem(status: .unprocessableContent, title: "Invalid schedule", detail: "the body is not a valid schedule", errors: errors)
        }
        // Every agent must advertise the module and accept the input now, so a schedule never
        // fails on every run for a reason known today.
        var input = fields["input"] ?? [:]
        if !locations.isEmpty {
            do throws(LedgerError) {
                let chosen = try AgentSelection.pick(locations, limit: limit, module: module, candidates: registry.candidates(module: module))
                input = try validated(input, for: chosen.compactMap { registry.entry($0.agentID) }, module: module)
            } catch {
                throw Problem(error)
            }
        }
        for agent in agents {
            guard let entry = registry.entry(agent) else {
                throw Problem(status: .notFound, title: "Unknown agent", detail: "no agent \(agent) has sent a heartbeat")
            }
            guard let spec = entry.heartbeat.modules.first(where: { $0.name == module }) else {
                throw Problem(status: .notFound, title: "Unknown module", detail: "agent \(agent) has no module \(module)")
            }
            input = try validated(input, spec: spec)
        }
        var request = Imn_Dbos_V1_ScheduleTaskRequest()
        request.id = id
        if let interval {
            request.kind = "interval"
            request.intervalMs = Int64(interval * 1000)
        } else {
            request.kind = "cron"
            request.cron = cron ?? ""
        }
        request.payload = try JSONEncoder().encode(ScheduleSpec(agents: agents, module: module, input: input, selection: selection))
        request.startMs = start ?? 0
        request.endMs = end ?? 0
        request.maxDeliveries = 3
        request.visibilityTimeoutMs = 30_000
        request.actor = actor
        let response = try await call { try await dbos.scheduleTask(request) }
        return Problem.json(Self.json(schedule: response.task), status: response.created ? .created : .ok)
    }

    /// GET /schedules?limit&cursor
    func schedules(query: [String: String]) async throws -> Response {
        var request = Imn_Dbos_V1_ListTasksRequest()
        request.pageSize = try Self.pageSize(query)
        request.cursor = query["cursor"] ?? ""
        let page = try await call { try await dbos.listTasks(request) }
        return Problem.json([
            "schedules": .array(page.tasks.filter { $0.id.hasPrefix(Self.schedulePrefix) }.map { Self.json(schedule: $0) }),
            "next_cursor": page.nextCursor.isEmpty ? .null : .string(page.nextCursor),
        ])
    }

    /// GET /schedules/{id}
    func schedule(id: String) async throws -> Response {
        guard id.hasPrefix(Self.schedulePrefix) else { throw Problem(status: .notFound, title: "Not found", detail: "no schedule \(id)") }
        var request = Imn_Dbos_V1_GetTaskRequest()
        request.id = id
        return Problem.json(Self.json(schedule: try await call { try await dbos.getTask(request) }))
    }

    /// DELETE /schedules/{id}: no further runs (a run in flight finishes).
    func deleteSchedule(id: String) async throws -> Response {
        guard id.hasPrefix(Self.schedulePrefix) else { throw Problem(status: .notFound, title: "Not found", detail: "no schedule \(id)") }
        var request = Imn_Dbos_V1_CancelTaskRequest()
        request.id = id
        request.actor = actor
        let response = try await call { try await dbos.cancelTask(request) }
        guard response.cancelled else { throw Problem(status: .notFound, title: "Not found", detail: "no schedule \(id)") }
        return Response(status: .noContent)
    }

    static func json(schedule task: Imn_Dbos_V1_Task) -> JSONValue {
        let spec = try? JSONDecoder().decode(ScheduleSpec.self, from: task.payload)
        let active = task.state == "pending" || task.state == "inflight"
        return [
            "id": .string(task.id), "agents": .array((spec?.agents ?? []).map(JSONValue.string)), "selection": spec?.selection ?? .null,
            "module": .string(spec?.module ?? ""),
            "input": spec?.input ?? .null, "interval_seconds": task.kind == "interval" ? .number(Double(task.intervalMs) / 1000) : .null,
            "cron": task.kind == "cron" ? .string(task.cron) : .null,
            "state": .string(active ? "active" : task.state == "done" ? "finished" : task.state),
            "next_run_at": active ? .string(Self.rfc3339(task.dueMs)) : .null, "end": task.endMs > 0 ? .string(Self.rfc3339(task.endMs)) : .null,
            "runs": .number(Double(task.runs)), "last_error": task.lastError.isEmpty ? .null : .string(task.lastError),
            "links": ["self": .string("/schedules/\(task.id)")],
        ]
    }

    static func rfc3339(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// An RFC 3339 time or milliseconds since 1970.
    static func time(_ value: JSONValue?, _ pointer: String, _ errors: inout [SchemaViolation]) throws -> Int64? {
        guard let value else { return nil }
        if let number = value.numberValue, number >= 0 { return Int64(number) }
        if let text = value.stringValue {
            let parser = ISO8601DateFormatter()
            parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = parser.date(from: text) ?? ISO8601DateFormatter().date(from: text) { return Int64(date.timeIntervalSince1970 * 1000) }
        }
        errors.append(SchemaViolation(pointer: pointer, keyword: "format", message: "an RFC 3339 date-time or milliseconds since 1970"))
        return nil
    }
}
