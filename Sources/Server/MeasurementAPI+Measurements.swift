import DBOS
import Foundation
import GRPCCore
import Hummingbird
import IMNCore

// POST /measurements, GET /measurements, GET /measurements/{id}: one measurement on many agents.
extension MeasurementAPI {
    static let measurementFields: Set<String> = ["module", "input", "agents", "locations", "limit", "measurement", "id"]

    /// POST /measurements[?wait=seconds]
    func createMeasurement(body: [UInt8], idempotencyKey: String?, wait: Double?) async throws -> Response {
        guard let json = JSONValue(parsing: body), let fields = json.objectValue else {
            throw Problem(status: .badRequest, title: "Malformed JSON", detail: "the body must be a JSON object")
        }
        guard json.depth <= Self.maxInputDepth else {
            throw Problem(status: .badRequest, title: "Input nested too deeply", detail: "module inputs nest at most \(Self.maxInputDepth) levels")
        }
        var errors: [SchemaViolation] = []
        for name in fields.keys.sorted() where !Self.measurementFields.contains(name) {
            errors.append(
                SchemaViolation(
                    pointer: "/\(name)", keyword: "additionalProperties",
                    message: "unknown field; a measurement has \(Self.measurementFields.sorted().joined(separator: ", "))"))
        }
        let (selection, selectionErrors) = AgentSelection.parse(fields)
        errors += selectionErrors
        let module = fields["module"]?.stringValue
        if fields["module"] != nil && (module ?? "").isEmpty {
            errors.append(SchemaViolation(pointer: "/module", keyword: "type", message: "a module name"))
        }
        var isRerun = false
        if case .measurement? = selection?.who { isRerun = true }
        if fields["module"] == nil && !isRerun {
            errors.append(SchemaViolation(pointer: "/module", keyword: "required", message: "the module to run"))
        }
        let input = fields["input"]
        if let given = input, given.objectValue == nil { errors.append(SchemaViolation(pointer: "/input", keyword: "type", message: "an object")) }
        let id = idempotencyKey ?? fields["id"]?.stringValue ?? "m-" + UUID().uuidString.lowercased()
        if !Subjects.isValidRequestID(id) || id.utf8.count > 128 {
            errors.append(SchemaViolation(pointer: "/id", keyword: "pattern", message: "1–128 characters without spaces, dots, * or >"))
        }
        guard errors.isEmpty, let selection else {
            throw Problem(status: .unprocessableContent, title: "Invalid measurement", detail: "the body is not a valid measurement", errors: errors)
        }
        // The agents, chosen now; a measurement seen before is answered as it was made.
        let plan: Plan
        do {
            plan = try await self.plan(selection, module: module, input: input, id: id, echo: Self.selectionEcho(fields))
        } catch {
            // The same measurement again (an Idempotency-Key retried) is answered as it stands.
            if let existing = try? await measurementRecord(id) { return try await respond(measurementID: existing.id, wait: wait, status: .accepted) }
            throw Problem(error)
        }
        let (runs, spec) = (plan.runs, plan.spec)
        let admitted: [String]
        do { admitted = try await ledger.admit(runs.map(\.requestID), token: APIToken.current) } catch { throw Problem(error) }
        let created: Imn_Dbos_V1_CreateMeasurementResponse
        do {
            created = try await ledger.create(id: id, module: plan.module, spec: spec, runs: runs)
        } catch {
            inFlight.release(admitted)
            throw Problem(error)
        }
        return try await waiters.watching(all: created.measurement.runs.map(\.requestID)) { waiter in
            let failures = await ledger.dispatch(created.states, input: spec.input)
            guard wait != nil else {
                // 202 from what was just created: no read back.
                var known = Imn_Dbos_V1_GetMeasurementResponse()
                known.measurement = created.measurement
                known.states = created.states.map { state in
                    var state = state
                    if let failure = failures[state.requestID] { (state.state, state.detail) = (ModuleStateName.failed.rawValue, failure.message) }
                    return state
                }
                var response = Problem.json(Self.json(known, groupBy: nil, spec: created.created ? spec : nil), status: .accepted)
                response.headers[.location] = "/measurements/\(id)"
                return response
            }
            return try await respond(measurementID: id, wait: wait, waiter: waiter, status: .accepted, known: created.states)
        }
    }

    /// What a measurement will run: its module, its runs and the spec kept with them.
    struct Plan {
        var module: String
        var spec: MeasurementLedger.Spec
        var runs: [MeasurementRun]
    }

    /// Chooses the agents of `selection` now and checks the input on each: named agents, agents
    /// by location, or a re-run of an earlier measurement's agents (its module and input unless
    /// given; its agents no longer alive `offline`).
    func plan(_ selection: AgentSelection, module given: String?, input: JSONValue?, id: String, echo: JSONValue) async throws(LedgerError)
        -> Plan
    {
        var module = given ?? ""
        var input = input
        var chosen: [AgentRegistry.Entry] = []
        var offline: [String] = []
        var rerunOf: String?
        switch selection.who {
        case .agents(let ids):
            chosen = try agents(ids, module: module)
        case .locations(let locations, let limit):
            let picked = try AgentSelection.pick(locations, limit: limit, module: module, candidates: registry.candidates(module: module))
            chosen = picked.compactMap { registry.entry($0.agentID) }
        case .measurement(let earlierID):
            let earlier = try await measurementRecord(earlierID)
            let earlierSpec = try? JSONDecoder().decode(MeasurementLedger.Spec.self, from: earlier.spec)
            module = given ?? earlier.module
            input = input ?? earlierSpec?.input
            rerunOf = earlierID
            for agentID in earlier.runs.map(\.agentID) + (earlierSpec?.offline ?? []) {
                if let entry = registry.entry(agentID), registry.isAlive(entry), entry.heartbeat.modules.contains(where: { $0.name == module }) {
                    chosen.append(entry)
                } else {
                    offline.append(agentID)
                }
            }
        }
        let checked = try validated(input ?? [:], for: chosen, module: module)
        var spec = MeasurementLedger.Spec(input: checked, selection: echo, offline: offline, rerunOf: rerunOf)
        for agentID in offline { spec.locations[agentID] = registry.entry(agentID)?.heartbeat.location }
        let runs = chosen.map { entry in
            spec.locations[entry.heartbeat.agentID] = entry.heartbeat.location
            return MeasurementRun(
                requestID: MeasurementLedger.runID(measurement: id, agentID: entry.heartbeat.agentID), agentID: entry.heartbeat.agentID)
        }
        return Plan(module: module, spec: spec, runs: runs)
    }

    /// Named agents: each known, alive and with the module, or a violation pointing at it.
    func agents(_ ids: [String], module: String) throws(LedgerError) -> [AgentRegistry.Entry] {
        var entries: [AgentRegistry.Entry] = []
        var violations: [SchemaViolation] = []
        for (index, id) in ids.enumerated() {
            let pointer = "/agents/\(index)"
            guard let entry = registry.entry(id) else {
                violations.append(SchemaViolation(pointer: pointer, keyword: "enum", message: "no agent \(id) has sent a heartbeat"))
                continue
            }
            guard registry.isAlive(entry) else {
                violations.append(
                    SchemaViolation(pointer: pointer, keyword: "alive", message: "agent \(id) has not been heard for \(registry.timeout)"))
                continue
            }
            guard entry.heartbeat.modules.contains(where: { $0.name == module }) else {
                violations.append(SchemaViolation(pointer: pointer, keyword: "module", message: "agent \(id) has no module \(module)"))
                continue
            }
            entries.append(entry)
        }
        guard violations.isEmpty else { throw LedgerError(.invalidRequest, "some agents cannot run \(module)", violations: violations) }
        return entries
    }

    /// The input checked against the module's schema on every chosen agent (their versions may
    /// differ), with the first one's defaults applied.
    func validated(_ input: JSONValue, for entries: [AgentRegistry.Entry], module: String) throws(LedgerError) -> JSONValue {
        var checked: JSONValue?
        var seen = Set<JSONValue>()
        for entry in entries {
            guard let spec = entry.heartbeat.modules.first(where: { $0.name == module }), seen.insert(spec.inputSchema).inserted else { continue }
            let schema = JSONSchema(spec.inputSchema)
            let violations = PrototypeInputs.explained(schema.validate(input), module: module)
            guard violations.isEmpty else {
                throw LedgerError(
                    .invalidRequest, "the input does not match \(module)'s input schema on agent \(entry.heartbeat.agentID)",
                    violations: violations.map { SchemaViolation(pointer: "/input" + $0.pointer, keyword: $0.keyword, message: $0.message) })
            }
            checked = checked ?? schema.applyingDefaults(to: input)
        }
        return checked ?? input
    }

    /// What was asked, kept with the measurement for people reading it later.
    static func selectionEcho(_ fields: [String: JSONValue]) -> JSONValue {
        .object(fields.filter { ["agents", "locations", "limit", "measurement"].contains($0.key) })
    }

    func measurementRecord(_ id: String) async throws(LedgerError) -> Imn_Dbos_V1_Measurement {
        try await measurement(id, withResults: false).measurement
    }

    func measurement(_ id: String, withResults: Bool) async throws(LedgerError) -> Imn_Dbos_V1_GetMeasurementResponse {
        guard Subjects.isValidRequestID(id) else { throw LedgerError(.notFound, "no measurement \(id)") }
        await ledger.ingesting.settled(id)  // a single run answered from JetStream, its DBOS write in flight
        var request = Imn_Dbos_V1_GetMeasurementRequest()
        request.id = id
        request.withResults = withResults
        do {
            return try await dbos.getMeasurement(request)
        } catch let error as RPCError where error.code == .notFound {
            throw LedgerError(.notFound, "no measurement \(id)")
        } catch {
            throw LedgerError(.stateUnavailable, (error as? RPCError)?.message ?? "\(error)")
        }
    }

    /// The measurement as it stands; with `wait`, once every run is terminal (200) or at the
    /// deadline (`status`). While waiting it reads DBOS only when every unfinished run has been
    /// heard ending (the waiter keeps count), or after a second without that, so a measurement of
    /// a thousand runs costs a read or two, not one per run. `known`: the runs' states as last
    /// known (just created), so that no read is needed to begin.
    func respond(
        measurementID: String, wait: Double?, waiter given: StateWaiters.Waiter? = nil, status: HTTPResponse.Status,
        groupBy: MeasurementSummary.Grouping? = nil, known: [Imn_Dbos_V1_ModuleState]? = nil
    ) async throws -> Response {
        func read() async throws -> Imn_Dbos_V1_GetMeasurementResponse {
            do { return try await measurement(measurementID, withResults: true) } catch { throw Problem(error) }
        }
        func answer(_ current: Imn_Dbos_V1_GetMeasurementResponse, _ code: HTTPResponse.Status) -> Response {
            var response = Problem.json(Self.json(current, groupBy: groupBy), status: code)
            response.headers[.location] = "/measurements/\(measurementID)"
            return response
        }
        func unfinished(_ states: [Imn_Dbos_V1_ModuleState]) -> [String] {
            states.filter { ModuleStateName(rawValue: $0.state)?.isTerminal != true }.map(\.requestID)
        }
        guard let wait else { return answer(try await read(), status) }
        let deadline = ContinuousClock.now + .milliseconds(Int64(min(max(wait, 0), 60) * 1000))
        let states: [Imn_Dbos_V1_ModuleState]
        if let known {
            states = known
        } else {
            let current = try await read()
            if Self.isFinished(current) { return answer(current, .ok) }
            states = current.states
        }
        var waiting = unfinished(states)
        guard let waiter = given else {
            // A GET that waits: watch the unfinished runs from now on.
            return try await waiters.watching(all: waiting) { [states] waiter in
                try await respond(measurementID: measurementID, wait: wait, waiter: waiter, status: status, groupBy: groupBy, known: states)
            }
        }
        while true {
            let until = min(deadline, ContinuousClock.now + .seconds(1))
            while waiting.isEmpty || !waiter.heardEnd(of: waiting), ContinuousClock.now < until {
                await waiter.signal.wait(timeout: until - ContinuousClock.now)
            }
            let current = try await read()
            if Self.isFinished(current) { return answer(current, .ok) }
            if ContinuousClock.now >= deadline { return answer(current, status) }
            waiting = unfinished(current.states)
        }
    }

    static func isFinished(_ measurement: Imn_Dbos_V1_GetMeasurementResponse) -> Bool {
        measurement.states.count == measurement.measurement.runs.count
            && measurement.states.allSatisfy { ModuleStateName(rawValue: $0.state)?.isTerminal == true }
    }

    /// GET /measurements/{id}[?group_by=country|asn|tag|continent|network]
    func measurementAnswer(id: String, query: [String: String]) async throws -> Response {
        var grouping: MeasurementSummary.Grouping?
        if let name = query["group_by"] {
            guard let parsed = MeasurementSummary.Grouping(rawValue: name) else {
                throw Problem(
                    status: .badRequest, title: "Bad query parameter",
                    detail: "group_by must be one of \(MeasurementSummary.Grouping.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            grouping = parsed
        }
        return try await respond(measurementID: id, wait: try IMNServer.wait(query["wait"]), status: .ok, groupBy: grouping)
    }

    /// GET /measurements?limit&cursor — oldest first.
    func measurements(query: [String: String]) async throws -> Response {
        var request = Imn_Dbos_V1_ListMeasurementsRequest()
        request.pageSize = try Self.pageSize(query)
        request.cursor = query["cursor"] ?? ""
        if !request.cursor.isEmpty && PageCursor(request.cursor) == nil {
            throw Problem(status: .badRequest, title: "Bad query parameter", detail: "cursor is not one this API gave out")
        }
        let page = try await call { try await dbos.listMeasurements(request) }
        return Problem.json([
            "measurements": .array(
                page.measurements.map { measurement in
                    [
                        "id": .string(measurement.id), "module": .string(measurement.module), "runs": .number(Double(measurement.runs.count)),
                        "created_at": .string(Self.rfc3339(measurement.createdMs)),
                        "links": ["self": .string("/measurements/\(measurement.id)")],
                    ]
                }),
            "next_cursor": page.nextCursor.isEmpty ? .null : .string(page.nextCursor),
        ])
    }

    /// A measurement with each run (agent, location, state, result or error, figures) and the summary.
    /// `known`: the spec when the caller has it (not decoded again).
    static func json(_ stored: Imn_Dbos_V1_GetMeasurementResponse, groupBy: MeasurementSummary.Grouping?, spec known: MeasurementLedger.Spec? = nil)
        -> JSONValue
    {
        let record = stored.measurement
        let spec = known ?? (try? JSONDecoder().decode(MeasurementLedger.Spec.self, from: record.spec))
        let states = Dictionary(stored.states.map { ($0.requestID, $0) }, uniquingKeysWith: { $1 })
        let results = Dictionary(stored.results.map { ($0.requestID, $0) }, uniquingKeysWith: { $1 })
        var summaryRuns: [MeasurementSummary.Run] = []
        var runs: [JSONValue] = []
        func location(_ agentID: String) -> JSONValue { spec?.locations[agentID]?.json ?? .null }
        for run in record.runs {
            let state = states[run.requestID]
            let result = results[run.requestID]
            let output = result.flatMap { JSONValue(parsing: Array($0.payload)) }
            let name = state?.state ?? "created"
            var entry: [String: JSONValue] = [
                "agent_id": .string(run.agentID), "request_id": .string(run.requestID), "state": .string(name), "location": location(run.agentID),
            ]
            if ModuleStateName(rawValue: name)?.isTerminal == true {
                entry["result"] = name == "completed" ? output ?? .null : .null
                entry["error"] =
                    name == "completed"
                    ? .null : .string(state?.detail.isEmpty == false ? state?.detail ?? "" : output?["error"]?.stringValue ?? name)
                if name == "completed", let figures = MeasurementSummary.Figures(output) { entry["stats"] = figures.json }
            }
            entry["links"] = [
                "state": .string("/modules/states/\(run.requestID)"), "result": .string("/agents/\(run.agentID)/results/\(run.requestID)"),
            ]
            runs.append(.object(entry))
            summaryRuns.append(
                MeasurementSummary.Run(
                    agentID: run.agentID, location: spec?.locations[run.agentID], state: name, output: name == "completed" ? output : nil))
        }
        for agentID in spec?.offline ?? [] {
            runs.append(["agent_id": .string(agentID), "request_id": .null, "state": "offline", "location": location(agentID)])
            summaryRuns.append(MeasurementSummary.Run(agentID: agentID, location: spec?.locations[agentID], state: "offline", output: nil))
        }
        var body: [String: JSONValue] = [
            "id": .string(record.id), "module": .string(record.module), "status": isFinished(stored) ? "finished" : "in-progress",
            "created_at": .string(rfc3339(record.createdMs)), "input": spec?.input ?? .null, "selection": spec?.selection ?? .null,
            "rerun_of": spec?.rerunOf.map(JSONValue.string) ?? .null, "runs": .array(runs), "summary": MeasurementSummary.summarize(summaryRuns),
            "links": ["self": .string("/measurements/\(record.id)"), "live": .string("/live/events?measurement=\(record.id)")],
        ]
        if let groupBy {
            body["group_by"] = .string(groupBy.rawValue)
            body["groups"] = MeasurementSummary.group(summaryRuns, by: groupBy)
        }
        return .object(body)
    }
}
