import DBOS
import Foundation
import GRPCCore
import IMNCore
import Logging
import Tracing

/// Runs schedules and request deadlines (`dl_…`, see Deadlines.swift): claims due `sch_…` tasks from DBOS (a lease, so with several servers each run
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
            claim.maxTasks = 16
            claim.worker = worker
            let tasks = (try? await DBOSClient.untraced { try await api.dbos.claimDueTasks(claim).tasks }) ?? []
            for task in tasks {
                if task.id.hasPrefix(MeasurementAPI.deadlinePrefix) {
                    if await api.expire(task) {
                        await ack(task)
                    } else {
                        let delay = min(Int64(500) << min(Int64(task.deliveries), 6), 30_000)
                        await nack(task, error: "state moved or DBOS away; checking again", delay: delay)
                    }
                    continue
                }
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

    func runOnce(_ task: Imn_Dbos_V1_Task) async {
        guard let spec = try? JSONDecoder().decode(ScheduleSpec.self, from: task.payload) else {
            await nack(task, error: "unreadable schedule payload", delay: 60_000)
            return
        }
        var outage: String?
        for agent in spec.agents {
            // One request id per run and agent: a redelivered run never measures twice.
            let requestID = "\(task.id)-\(task.dueMs)-\(agent)"
            do {
                try await api.dispatch(agentID: agent, module: spec.module, input: spec.input, requestID: requestID)
                api.metrics.scheduleRun(outcome: "dispatched")
            } catch let problem as Problem where problem.status == .serviceUnavailable {
                outage = problem.detail
            } catch {
                // The agent is gone or no longer has the module: this run is skipped, the next is tried.
                api.metrics.scheduleRun(outcome: "skipped")
                logger.info("scheduled run skipped", metadata: ["schedule.id": "\(task.id)", "agent.id": "\(agent)", "error": "\(error)"])
            }
        }
        if let outage, task.deliveries < task.maxDeliveries {
            await nack(task, error: outage, delay: 1_000)
            return
        }
        if let outage {
            api.metrics.scheduleRun(outcome: "given_up")
            logger.warning("scheduled run given up", metadata: ["schedule.id": "\(task.id)", "error": "\(outage)"])
        }
        await ack(task)
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
