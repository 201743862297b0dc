import Archive
import DBOS
import Foundation
import GRPCCore
import Hummingbird
import IMNCore
import NATSClient
import Tracing

/// The REST routes (paths of the earlier prototype kept).
struct MeasurementAPI: Sendable {
    let registry: AgentRegistry
    let connection: NATSConnection
    let dbos: DBOSClient
    let ledger: MeasurementLedger
    let metrics: ServerMetrics
    let actor: String
    /// The ClickHouse archive `GET /history` reads; nil when the archive is off.
    var history: ClickHouseClient? = nil
    let started = Date()

    var waiters: StateWaiters { ledger.waiters }
    var inFlight: MeasurementsInFlight { ledger.inFlight }

    func status() -> Response {
        let counts = registry.counts
        return Problem.json([
            "agents_total": .number(Double(counts.total)), "agents_alive": .number(Double(counts.alive)),
            "version": .string(IMNVersion.current), "uptime_seconds": .number(Date().timeIntervalSince(started).rounded()),
        ])
    }

    /// GET /ready: 200 when NATS is connected and DBOS serving, 503 naming what is not.
    func ready() async -> Response {
        let nats = connection.state == .connected
        let state = await dbos.isServing()
        let body: JSONValue = ["nats": .bool(nats), "dbos": .bool(state), "ready": .bool(nats && state)]
        return Problem.json(body, status: nats && state ? .ok : .serviceUnavailable)
    }

    /// GET /agents?country&continent&region&city&asn&network&tag&module&alive — each filter given
    /// (and not empty) must match; `tag` may name several, comma-separated, all required.
    func agents(query given: [String: String]) throws -> Response {
        // `?region=` (free text, or no tag) filters nothing, as if absent; an empty code or number is refused.
        let query = given.filter { !(["region", "city", "network", "module", "tag", "tags"].contains($0.key) && $0.value.trimmed.isEmpty) }
        var fields: [String: JSONValue] = [:]
        for name in ["continent", "country", "region", "city", "network"] { if let value = query[name] { fields[name] = .string(value) } }
        for name in ["continent", "country"] where query[name].map({ $0 != $0.uppercased() }) == true {
            throw Problem(status: .badRequest, title: "Bad query parameter", detail: "\(name) is an upper-case code, e.g. country=DE or continent=EU")
        }
        if let text = query["asn"] { fields["asn"] = Int64(text).map { .number(Double($0)) } ?? .string(text) }
        if let text = query["tag"] ?? query["tags"] { fields["tags"] = .array(text.split(separator: ",").map { .string($0.trimmed) }) }
        let (filter, errors) = LocationFilter.parse(fields, pointer: "")
        if let error = errors.first {
            throw Problem(status: .badRequest, title: "Bad query parameter", detail: "\(error.pointer.dropFirst()): \(error.message)")
        }
        var alive: Bool?
        if let text = query["alive"] {
            guard let value = Bool(text) else {
                throw Problem(status: .badRequest, title: "Bad query parameter", detail: "alive must be true or false")
            }
            alive = value
        }
        let module = query["module"]
        let entries = registry.all.filter { entry in
            filter.matches(entry.heartbeat.location) && (alive == nil || registry.isAlive(entry) == alive)
                && (module == nil || entry.heartbeat.modules.contains { $0.name == module })
        }
        return Problem.json(.array(entries.map(describe)))
    }

    func describe(_ entry: AgentRegistry.Entry) -> JSONValue {
        let heartbeat = (try? JSONValue(parsing: JSONEncoder().encode(entry.heartbeat))) ?? .null
        var object = heartbeat.objectValue ?? [:]
        object["alive"] = .bool(registry.isAlive(entry))
        object["seconds_since_heartbeat"] = .number(((ContinuousClock.now - entry.lastSeen).secondsValue * 10).rounded() / 10)
        if !entry.schemaWarnings.isEmpty { object["schema_warnings"] = .array(entry.schemaWarnings.map(JSONValue.string)) }
        return .object(object)
    }

    /// Arrays and objects inside each other; no module needs more, and deep values cost stack.
    static let maxInputDepth = 32

    /// POST /agent/{agent_id}/{module}[?wait=seconds][&untracked=true]
    func trigger(agentID: String, module: String, body: [UInt8], idempotencyKey: String?, wait: Double?, untracked: Bool) async throws -> Response {
        guard let input = JSONValue(parsing: body.isEmpty ? Array("{}".utf8) : body) else {
            throw Problem(status: .badRequest, title: "Malformed JSON", detail: "the body is not JSON")
        }
        guard input.depth <= Self.maxInputDepth else {
            throw Problem(status: .badRequest, title: "Input nested too deeply", detail: "module inputs nest at most \(Self.maxInputDepth) levels")
        }
        let bodyID = input.objectValue?["id"]?.stringValue
        let requestID = idempotencyKey ?? bodyID ?? UUID().uuidString.lowercased()
        var moduleInput = input
        if bodyID != nil, case .object(var fields) = input {
            fields["id"] = nil  // the request id, not module input
            moduleInput = .object(fields)
        }
        let counted: [String]
        do { counted = try await ledger.admit([requestID], token: APIToken.current) } catch { throw Problem(error) }
        do {
            if untracked {
                try await fireAndForget(agentID: agentID, module: module, input: moduleInput, requestID: requestID)
                return Problem.json(
                    ["id": .string(requestID), "agent_id": .string(agentID), "module": .string(module), "untracked": true], status: .accepted)
            }
            // Watching from before the command leaves, so that no terminal change can be missed and
            // a fresh request needs no read of the state it has just created.
            let response = try await waiters.watching(requestID) { waiter in
                let created = try await dispatch(agentID: agentID, module: module, input: moduleInput, requestID: requestID)
                return try await respond(requestID: requestID, agentID: agentID, module: module, wait: wait, waiter: waiter, created: created)
            }
            if response.status == .ok { inFlight.release(requestID) }  // terminal
            return response
        } catch {
            inFlight.release(counted)
            throw error
        }
    }

    /// The module's spec when the agent is known, alive and advertises it.
    func spec(agentID: String, module: String) throws -> ModuleSpec {
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
        return spec
    }

    /// Validates `input`, returning it with the schema's defaults applied.
    func validated(_ input: JSONValue, spec: ModuleSpec) throws -> JSONValue {
        let schema = JSONSchema(spec.inputSchema)
        let violations = PrototypeInputs.explained(schema.validate(input), module: spec.name)
        guard violations.isEmpty else {
            throw Problem(
                status: .unprocessableContent, title: "Invalid input", detail: "the body does not match \(spec.name)'s input schema",
                errors: violations)
        }
        return schema.applyingDefaults(to: input)
    }

    static func checkRequestID(_ requestID: String) throws {
        guard Subjects.isValidRequestID(requestID) else {
            throw Problem(status: .badRequest, title: "Bad Idempotency-Key", detail: "1–256 characters without spaces, dots, * or >")
        }
    }

    /// Validates, creates the request as a measurement of one run (its state and deadline in one
    /// DBOS call) and has the agent accept the command. The same `requestID` again is the same
    /// request: it returns without running anything twice. Returns the state it created (nil for a
    /// request seen before).
    @discardableResult
    func dispatch(agentID: String, module: String, input given: JSONValue, requestID: String) async throws -> Imn_Dbos_V1_ModuleState? {
        try Self.checkRequestID(requestID)
        let input: JSONValue
        do {
            input = try validated(given, spec: try spec(agentID: agentID, module: module))
        } catch let problem as Problem {
            // A request seen before is answered as it stands, even if the agent has gone since.
            if let existing = try? await dbos.getModuleState(.init(requestID: requestID)), existing.agentID == agentID, existing.module == module {
                return nil
            }
            throw problem
        }
        var spec = MeasurementLedger.Spec(input: input)
        spec.locations[agentID] = registry.entry(agentID)?.heartbeat.location
        let created: Imn_Dbos_V1_CreateMeasurementResponse
        do throws(LedgerError) {
            created = try await ledger.create(
                id: requestID, module: module, spec: spec, runs: [MeasurementRun(requestID: requestID, agentID: agentID)])
        } catch {
            throw Problem(error)
        }
        // The same key again: the same request, never run twice. Still `created`, its command may
        // never have reached the agent (a server died between): send it again; an agent that has it
        // already answers `accepted` without running it a second time.
        guard let state = created.states.first, state.agentID == agentID, state.module == module,
            state.state == ModuleStateName.created.rawValue
        else { return nil }
        do throws(LedgerError) {
            try await ledger.send(agentID: agentID, module: module, input: input, requestID: requestID)
        } catch {
            var failing = state
            failing.detail = error.message
            await ledger.fail([failing])
            switch error.code {
            case .invalidRequest:
                throw Problem(status: .unprocessableContent, title: "Rejected by the agent", detail: error.message, errors: error.violations)
            default: throw Problem(error)
            }
        }
        return created.created ? state : nil
    }

    /// `?untracked=true`: the prototype's behaviour, publish and answer at once. The agent's
    /// transitions still reach DBOS through ingestion.
    func fireAndForget(agentID: String, module: String, input: JSONValue, requestID: String) async throws {
        let input = try validated(input, spec: try spec(agentID: agentID, module: module))
        try Self.checkRequestID(requestID)
        do {
            try await ledger.sendCommand(agentID: agentID, module: module, input: input, requestID: requestID) { subject, payload, headers in
                try connection.publish(subject, payload: payload, headers: headers)
            }
        } catch let error as NATSError {
            throw Problem(status: .serviceUnavailable, title: "NATS unavailable", detail: error.message)
        }
    }

    /// 202 with the current state, or (with `wait`) 200 with the result once terminal. A wait is
    /// woken by a terminal change: answered from what this replica's ingestion stored, or read
    /// from DBOS when another replica stored it. `created` is the state the request was just
    /// created with (a terminal change since then has woken `waiter`); nil reads it from DBOS.
    func respond(
        requestID: String, agentID: String, module: String, wait: Double?, waiter: StateWaiters.Waiter, created: Imn_Dbos_V1_ModuleState?
    ) async throws -> Response {
        let deadline = ContinuousClock.now + .milliseconds(Int64(min(max(wait ?? 0, 0), 60) * 1000))
        let get = Imn_Dbos_V1_GetModuleStateRequest(requestID: requestID)
        var state: Imn_Dbos_V1_ModuleState
        if let known = waiter.outcome?.state ?? created {
            state = known
        } else {
            state = try await call { try await dbos.getModuleState(get) }
        }
        while true {
            let terminal = ModuleStateName(rawValue: state.state)?.isTerminal == true
            if terminal && wait != nil {
                var result = waiter.outcome?.result
                if result == nil {
                    var request = Imn_Dbos_V1_GetResultRequest()
                    request.requestID = requestID
                    result = try? await dbos.getResult(request)
                }
                return Self.answer(state: state, result: result, agentID: agentID, module: module, terminal: true)
            }
            let now = ContinuousClock.now
            if wait == nil || now >= deadline {
                return Self.answer(state: state, result: nil, agentID: agentID, module: module, terminal: false)
            }
            await waiter.signal.wait(timeout: min(deadline - now, .seconds(1)))
            if let handed = waiter.outcome {
                state = handed.state
            } else if let current = await Self.read(get, from: dbos, unless: waiter) {
                state = current  // stored by another replica, or a wake-up missed
            }
        }
    }

    /// The state as DBOS has it, or nil when the waiter is woken first or the read fails: with
    /// DBOS or Redis away, a hanging read must not hold an answer the ingestion hands over.
    static func read(_ get: Imn_Dbos_V1_GetModuleStateRequest, from dbos: DBOSClient, unless waiter: StateWaiters.Waiter) async
        -> Imn_Dbos_V1_ModuleState?
    {
        await withTaskGroup(of: Imn_Dbos_V1_ModuleState?.self) { group in
            group.addTask { try? await dbos.getModuleState(get) }
            group.addTask {
                await waiter.signal.wait(timeout: .seconds(10))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            waiter.signal.signal()  // releases the waiting child if the read came first
            return first
        }
    }

    /// The body of a measurement's answer: 200 with the result when terminal, 202 otherwise.
    static func answer(state: Imn_Dbos_V1_ModuleState, result: Imn_Dbos_V1_Result?, agentID: String, module: String, terminal: Bool)
        -> Response
    {
        let requestID = state.requestID
        var body: [String: JSONValue] = [
            "id": .string(requestID), "agent_id": .string(agentID), "module": .string(module), "state": .string(state.state),
        ]
        let links: [String: JSONValue] = ["state": .string("/modules/states/\(requestID)")]
        let resultLink = JSONValue.string("/agents/\(agentID)/results/\(requestID)")
        guard terminal else {
            body["links"] = .object(links.merging(["result": resultLink]) { $1 })
            return Problem.json(.object(body), status: .accepted)
        }
        body["detail"] = state.detail.isEmpty ? JSONValue.null : .string(state.detail)
        body["result"] = result.flatMap { JSONValue(parsing: Array($0.payload)) } ?? JSONValue.null
        body["links"] = .object(links.merging(["self": resultLink]) { $1 })
        return Problem.json(.object(body))
    }

    /// GET /agents/{agent_id}/results/{request_id}
    func result(agentID: String, requestID: String) async throws -> Response {
        try Self.requireExistingForm(requestID)
        await ledger.ingesting.settled(requestID)  // answered from JetStream, DBOS write in flight
        var request = Imn_Dbos_V1_GetResultRequest()
        request.requestID = requestID
        let result = try await call { try await dbos.getResult(request) }
        guard result.agentID == agentID else {
            throw Problem(status: .notFound, title: "Not found", detail: "no result \(requestID) for \(agentID)")
        }
        return Problem.json(Self.json(result))
    }
}

extension Duration {
    var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
