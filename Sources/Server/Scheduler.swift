import DBOS
import Foundation
import GRPCCore
import IMNCore
import Logging
import Tracing

/// Runs schedules and measurement deadlines (`dl_…`, see MeasurementLedger.expire): claims due `sch_…` tasks from DBOS (a lease, so with several servers each run
/// is claimed by one), dispatches the measurement to every agent of the schedule like a POST,
/// then acknowledges (DBOS enqueues the next run). A run whose dispatch hit an outage is NACKed
/// and retried; after its last delivery it is acknowledged anyway, so a recurring schedule
/// outlives an outage instead of dying in the dead-letter list.
struct Scheduler: Sendable {
    let api: MeasurementAPI
    let worker: String
    let logger: Logger
    var pollInterval: Duration = .milliseconds(200)

    func run() async {
        while !Task.isCancelled {
            var claim = Imn_Dbos_V1_ListDueTasksRequest()
            claim.maxTasks = 32
            claim.worker = worker
            let tasks = (try? await DBOSClient.untraced { try await api.dbos.claimDueTasks(claim).tasks }) ?? []
            // Every measurement has a deadline and most find their runs finished: side by side, so
            // that the deadlines keep up with the measurements (one at a time, a busy server fell
            // minutes behind and left runs of dead agents unfinished that long).
            await withTaskGroup(of: Void.self) { group in
                for task in tasks where task.id.hasPrefix(MeasurementLedger.deadlinePrefix) {
                    group.addTask { await expire(task) }
                }
            }
            for task in tasks {
                guard task.id.hasPrefix(MeasurementAPI.schedulePrefix) else { continue }
                // Each scheduled run is a trace of its own, like a POST.
                await withSpan("schedule run", ofKind: .internal) { span in
                    span.attributes["imn.schedule.id"] = task.id
                    await runOnce(task)
                }
            }
            if tasks.isEmpty { try? await Task.sleep(for: pollInterval) }
        }
    }

    /// One run of a schedule is a measurement (id `<schedule>-<due ms>`, so a redelivered run
    /// never measures twice) on the schedule's agents, or on agents chosen by its locations now.
    func runOnce(_ task: Imn_Dbos_V1_Task) async {
        guard let spec = try? JSONDecoder().decode(ScheduleSpec.self, from: task.payload) else {
            await nack(task, error: "unreadable schedule payload", delay: 60_000)
            return
        }
        let registry = api.registry
        let usable = { (entry: AgentRegistry.Entry) in registry.isAlive(entry) && entry.heartbeat.modules.contains { $0.name == spec.module } }
        var chosen: [AgentRegistry.Entry] = []
        if let selection = spec.selection?.objectValue, case .locations(let locations, let limit)? = AgentSelection.parse(selection).0?.who {
            let picked = try? AgentSelection.pick(locations, limit: limit, module: spec.module, candidates: registry.candidates(module: spec.module))
            chosen = (picked ?? []).compactMap { registry.entry($0.agentID) }
        } else {
            chosen = spec.agents.compactMap { registry.entry($0) }.filter(usable)
        }
        let skipped = spec.selection == nil ? spec.agents.count - chosen.count : (chosen.isEmpty ? 1 : 0)
        for _ in 0..<max(skipped, 0) { api.metrics.scheduleRun(outcome: "skipped") }
        if skipped > 0 {
            // Gone, dead or without the module now: skipped this time, tried again next run.
            logger.info("scheduled run skipped for some agents", metadata: ["schedule.id": "\(task.id)", "skipped": "\(skipped)"])
        }
        guard !chosen.isEmpty else {
            await ack(task)
            return
        }
        let id = "\(task.id)-\(task.dueMs)"
        var measurement = MeasurementLedger.Spec(input: spec.input, selection: spec.selection)
        for entry in chosen { measurement.locations[entry.heartbeat.agentID] = entry.heartbeat.location }
        let runs = chosen.map {
            MeasurementRun(requestID: MeasurementLedger.runID(measurement: id, agentID: $0.heartbeat.agentID), agentID: $0.heartbeat.agentID)
        }
        do throws(LedgerError) {
            let created = try await api.ledger.create(id: id, module: spec.module, spec: measurement, runs: runs)
            let failures = await api.ledger.dispatch(created.states, input: spec.input)
            for _ in 0..<(runs.count - failures.count) { api.metrics.scheduleRun(outcome: "dispatched") }
            for _ in failures { api.metrics.scheduleRun(outcome: "skipped") }
            await ack(task)
        } catch {
            if task.deliveries < task.maxDeliveries {
                await nack(task, error: error.message, delay: 1_000)
            } else {
                api.metrics.scheduleRun(outcome: "given_up")
                logger.warning("scheduled run given up", metadata: ["schedule.id": "\(task.id)", "error": "\(error)"])
                await ack(task)
            }
        }
    }

    /// A measurement's deadline: its unfinished runs failed, or a look again shortly.
    func expire(_ task: Imn_Dbos_V1_Task) async {
        if await api.ledger.expire(task) {
            await ack(task)
        } else {
            let delay = min(Int64(500) << min(Int64(task.deliveries), 6), 30_000)
            await nack(task, error: "state moved or DBOS away; checking again", delay: delay)
        }
    }

    func ack(_ task: Imn_Dbos_V1_Task) async {
        var ack = Imn_Dbos_V1_AckTaskRequest()
        ack.id = task.id
        ack.leaseToken = task.leaseToken
        ack.actor = worker
        do {
            _ = try await api.dbos.ackTask(ack)
        } catch {
            logger.warning("task ack failed; the lease will expire", metadata: ["task.id": "\(task.id)", "error": "\(error)"])
        }
    }

    func nack(_ task: Imn_Dbos_V1_Task, error: String, delay: Int64) async {
        var nack = Imn_Dbos_V1_NackTaskRequest()
        nack.id = task.id
        nack.leaseToken = task.leaseToken
        nack.delayMs = delay
        nack.error = error
        _ = try? await api.dbos.nackTask(nack)
    }
}
