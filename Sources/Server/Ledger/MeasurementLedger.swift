import DBOS
import Foundation
import GRPCCore
import IMNCore
import NATSClient
import Synchronization
import Tracing

/// The one home of a measurement's life: creates it with all its runs (their states and its
/// deadline in one DBOS call), sends each run's command to its agent, advances runs as their
/// agents report (`MeasurementLedger+Advance.swift`), fails runs that cannot happen, wakes who
/// waits for them, counts each token's runs in flight, and ends what a deadline finds unfinished.
/// Speaks DBOS and NATS, never HTTP: the REST routes, the scheduler, the deadlines and the
/// ingestion call it, and its ``LedgerError`` becomes a problem at the edge.
final class MeasurementLedger: Sendable {
    let registry: AgentRegistry
    let connection: NATSConnection
    let dbos: DBOSClient
    let metrics: ServerMetrics
    let actor: String
    /// How long a run may stay unfinished before its deadline fails it.
    let stuckAfter: Duration
    /// Handlers waiting (`?wait=`) for runs to end.
    let waiters = StateWaiters()
    /// Each REST token's runs in flight, for its `max_concurrent_measurements`.
    let inFlight = MeasurementsInFlight()
    /// Terminal results answered from JetStream whose DBOS writes are still going on.
    let ingesting = IngestionInFlight()
    /// The last state this replica stored per run (a small cache: a miss costs one conflict).
    let stored = Mutex<[String: (state: ModuleStateName, version: Int64)]>([:])

    init(registry: AgentRegistry, connection: NATSConnection, dbos: DBOSClient, metrics: ServerMetrics, actor: String, stuckAfter: Duration) {
        self.registry = registry
        self.connection = connection
        self.dbos = dbos
        self.metrics = metrics
        self.actor = actor
        self.stuckAfter = stuckAfter
    }

    static let deadlinePrefix = "dl_"

    /// A run's request id: `<measurement>~<agent>`; a single-run request's is its measurement's id.
    static func runID(measurement: String, agentID: String) -> String { "\(measurement)~\(agentID)" }

    /// The measurement a run belongs to (the inverse of ``runID(measurement:agentID:)``).
    static func measurementID(ofRun requestID: String, agentID: String) -> String {
        requestID.hasSuffix("~" + agentID) ? String(requestID.dropLast(agentID.count + 1)) : requestID
    }
    /// Commands in flight at once while a measurement is dispatched.
    static let dispatchWidth = 128

    /// What is kept with a measurement besides its runs.
    struct Spec: Codable, Sendable {
        var input: JSONValue
        /// The selection as it was asked (nil for a single-run POST).
        var selection: JSONValue?
        /// A re-run's agents that were not alive (reported `offline`, never dispatched).
        var offline: [String] = []
        /// Each agent's location when the measurement was made.
        var locations: [String: AgentLocation] = [:]
        var rerunOf: String?

        enum CodingKeys: String, CodingKey {
            case input, selection, offline, locations, rerunOf = "rerun_of"
        }
    }

    /// Creates the measurement, every run's state `created` and its deadline in one DBOS call. The
    /// same id again creates nothing and answers the first record (its runs, not these).
    func create(id: String, module: String, spec: Spec, runs: [MeasurementRun]) async throws(LedgerError)
        -> Imn_Dbos_V1_CreateMeasurementResponse
    {
        var request = Imn_Dbos_V1_CreateMeasurementRequest()
        request.measurement.id = id
        request.measurement.module = module
        request.measurement.spec = (try? JSONEncoder().encode(spec)) ?? Data()
        request.measurement.runs = runs.map { Imn_Dbos_V1_MeasurementRun(requestID: $0.requestID, agentID: $0.agentID) }
        request.measurement.actor = actor
        request.deadlineTaskID = Self.deadlinePrefix + id
        request.deadlineDueMs = Date.nowMilliseconds + Int64(stuckAfter / .milliseconds(1))
        request.deadlinePayload = (try? JSONEncoder().encode(Deadline(measurementID: id))) ?? Data()
        // Looked at again with a growing delay while DBOS is away (Scheduler), for minutes.
        request.deadlineMaxDeliveries = 20
        do {
            // With other requests created at the same time (group commit).
            return try await dbos.createMeasurementInBatch(request)
        } catch let error as RPCError where error.code == .invalidArgument {
            throw LedgerError(.invalidRequest, error.message)
        } catch {
            throw LedgerError(.stateUnavailable, (error as? RPCError)?.message ?? "\(error)")
        }
    }

    /// Sends the command of every run still `created` (a repeat of the measurement re-sends only
    /// those: an agent that has a command already answers `accepted` without running it twice).
    /// A run the agent refused or that no agent answered is failed; returns those failures by
    /// request id.
    @discardableResult
    func dispatch(_ states: [Imn_Dbos_V1_ModuleState], input: JSONValue) async -> [String: LedgerError] {
        let pending = states.filter { $0.state == ModuleStateName.created.rawValue }
        var failures: [String: LedgerError] = [:]
        await withTaskGroup(of: (Imn_Dbos_V1_ModuleState, LedgerError?).self) { group in
            var next = 0
            func startOne() {
                guard next < pending.count else { return }
                let state = pending[next]
                next += 1
                group.addTask {
                    do throws(LedgerError) {
                        try await self.send(agentID: state.agentID, module: state.module, input: input, requestID: state.requestID)
                        return (state, nil)
                    } catch {
                        return (state, error)
                    }
                }
            }
            for _ in 0..<Self.dispatchWidth { startOne() }
            var failed: [Imn_Dbos_V1_ModuleState] = []
            for await (state, error) in group {
                if let error {
                    failures[state.requestID] = error
                    var known = state
                    known.detail = error.message
                    failed.append(known)
                }
                startOne()
            }
            await fail(failed)
        }
        return failures
    }

    /// Has the agent accept one run's command. Throws `rejected` (with the agent's reason) or
    /// `agentUnreachable`; the caller fails the run.
    func send(agentID: String, module: String, input: JSONValue, requestID: String) async throws(LedgerError) {
        let reply: NATSMessage
        do {
            reply = try await sendCommand(agentID: agentID, module: module, input: input, requestID: requestID) { subject, payload, headers in
                try await connection.request(subject, payload: payload, headers: headers, timeout: .seconds(5))
            }
        } catch let error as NATSError {
            throw LedgerError(.agentUnreachable, "\(error.code): \(error.message)")
        } catch {
            throw LedgerError(.agentUnreachable, "\(error)")
        }
        guard let answer = try? JSONDecoder().decode(CommandReply.self, from: Data(reply.payload)) else {
            throw LedgerError(.agentUnreachable, "the agent's answer is not a command reply")
        }
        if answer.status == .rejected {
            let code: LedgerError.Code = answer.reason == .invalidInput ? .invalidRequest : .rejected
            throw LedgerError(code, answer.message ?? "rejected", violations: answer.violations ?? [])
        }
    }

    /// Encodes the command and hands it to `send` (a request or a publish) inside a producer span
    /// whose context rides in the NATS headers. Span attributes are bounded: no addresses, no inputs.
    func sendCommand<T>(
        agentID: String, module: String, input: JSONValue, requestID: String,
        _ send: (_ subject: String, _ payload: [UInt8], _ headers: NATSHeaders) async throws -> T
    ) async throws -> T {
        let subject = Subjects.command(agent: agentID, module: module)
        let payload = Array(try JSONEncoder().encode(CommandRequest(requestID: requestID, input: input)))
        return try await withSpan("\(subject) publish", ofKind: .producer) { span in
            span.attributes["messaging.system"] = "nats"
            span.attributes["messaging.destination.name"] = subject
            span.attributes["imn.agent.id"] = agentID
            span.attributes["imn.module"] = module
            span.attributes["imn.request.id"] = requestID
            return try await send(subject, payload, .tracing(span.context))
        }
    }

    /// Fails runs that have not finished, each from the state and version given, in one DBOS call,
    /// and announces each failure. The states' `detail` says why. Returns whether every one was
    /// applied (a run that moved meanwhile is left as it is now).
    @discardableResult
    func fail(_ states: [Imn_Dbos_V1_ModuleState]) async -> Bool {
        guard !states.isEmpty else { return true }
        // SetModuleStates takes at most 1,000 items (DBOS keeps up to 10,000 runs a measurement).
        guard states.count <= 1000 else {
            var all = true
            for start in stride(from: 0, to: states.count, by: 1000) {
                all = await fail(Array(states[start..<min(start + 1000, states.count)])) && all
            }
            return all
        }
        var request = Imn_Dbos_V1_SetModuleStatesRequest()
        request.items = states.map { state in
            var set = Imn_Dbos_V1_SetModuleStateRequest()
            set.requestID = state.requestID
            set.agentID = state.agentID
            set.module = state.module
            set.state = ModuleStateName.failed.rawValue
            set.expectedVersion = state.version
            set.actor = actor
            set.detail = state.detail
            return set
        }
        guard let outcomes = try? await dbos.setModuleStates(request).items else { return false }
        var all = outcomes.count == states.count
        for (state, outcome) in zip(states, outcomes) {
            guard !outcome.hasStatus || outcome.status.code == 0 else {
                all = false
                continue
            }
            LiveStateEvent(
                id: state.requestID, agentID: state.agentID, module: state.module, state: ModuleStateName.failed.rawValue,
                atMilliseconds: Date.nowMilliseconds, error: state.detail
            ).announce(on: connection)
        }
        return all
    }

    /// Follows `imn.live.state` until cancelled: a terminal change (stored by any replica) wakes its
    /// waiters and ends its run's count against its token; `each` hears every change after that.
    func follow(each: @Sendable (LiveStateEvent) -> Void) async throws {
        try await waiters.follow(connection) { event in
            if ModuleStateName(rawValue: event.state)?.isTerminal == true { inFlight.release(event.id) }
            each(event)
        }
    }

    /// Counts runs against `token`'s limit of measurements in flight; all or none (a refusal
    /// releases what it counted). Returns the ids this call counted.
    func admit(_ requestIDs: [String], token: APIToken?) async throws(LedgerError) -> [String] {
        var admitted: [String] = []
        do {
            for id in requestIDs {
                if try await inFlight.admit(id, token: token, states: currentStates) { admitted.append(id) }
            }
        } catch {
            inFlight.release(admitted)
            throw error
        }
        return admitted
    }

    /// The states of `requestIDs` that DBOS has (for the per-token limit's recount).
    func currentStates(_ requestIDs: [String]) async -> [String: ModuleStateName] {
        await withTaskGroup(of: (String, ModuleStateName?).self) { group in
            for id in requestIDs {
                group.addTask {
                    let state = try? await DBOSClient.untraced { try await self.dbos.getModuleState(.init(requestID: id)) }.state
                    return (id, state.flatMap(ModuleStateName.init(rawValue:)))
                }
            }
            var states: [String: ModuleStateName] = [:]
            for await (id, state) in group { states[id] = state }
            return states
        }
    }
}
