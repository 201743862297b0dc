import DBOS
import Foundation
import IMNCore
import Logging
import Synchronization

/// Keeps the agent registry in DBOS from heartbeats without a call per heartbeat: the latest
/// heartbeat of each agent waits here, and every 250 ms the agents that are new, changed what
/// they describe (modules, version, …) or were last written `refresh` ago go to DBOS in
/// `RegisterAgents` batches of up to 1,000, one batch in flight at a time. DBOS's `last_seen`
/// is only for a restarted server's registry, so seconds of lag there cost nothing.
final class HeartbeatRecorder: Sendable {
    private struct State {
        /// Heard since the last flush, the latest per agent.
        var latest: [String: Heartbeat] = [:]
        /// What DBOS was last given for each agent (its description), and when.
        var written: [String: (description: Heartbeat, at: ContinuousClock.Instant)] = [:]
    }

    private let state = Mutex(State())
    let refresh: Duration
    let actor: String

    init(actor: String, refresh: Duration = .seconds(5)) {
        self.actor = actor
        self.refresh = refresh
    }

    func heard(_ heartbeat: Heartbeat) {
        state.withLock { $0.latest[heartbeat.agentID] = heartbeat }
    }

    /// The heartbeats DBOS should get now, marked as written.
    func takeDue(now: ContinuousClock.Instant = .now) -> [Heartbeat] {
        state.withLock { state in
            var due: [Heartbeat] = []
            for (id, heartbeat) in state.latest {
                let description = Self.description(heartbeat)
                if let written = state.written[id], written.description == description, now - written.at < refresh { continue }
                state.written[id] = (description, now)
                due.append(description)
            }
            state.latest = [:]
            return due
        }
    }

    /// Not stored after all: written again with the agent's next heartbeat.
    func forget(_ ids: [String]) {
        state.withLock { state in for id in ids { state.written[id] = nil } }
    }

    /// What describes the agent, without what changes with every heartbeat.
    static func description(_ heartbeat: Heartbeat) -> Heartbeat {
        var stable = heartbeat
        (stable.sentAtMilliseconds, stable.sequence, stable.system) = (0, 0, nil)
        return stable
    }

    func run(_ dbos: DBOSClient, logger: Logger) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(250))
            let due = takeDue()
            for start in stride(from: 0, to: due.count, by: 1000) {
                let chunk = Array(due[start..<min(start + 1000, due.count)])
                var request = Imn_Dbos_V1_RegisterAgentsRequest()
                request.items = chunk.map { heartbeat in
                    var item = Imn_Dbos_V1_RegisterAgentRequest()
                    item.id = heartbeat.agentID
                    item.info = (try? JSONEncoder().encode(heartbeat)) ?? Data()
                    item.actor = actor
                    return item
                }
                do {
                    let response = try await DBOSClient.untraced { try await dbos.registerAgents(request) }
                    let failed = zip(chunk, response.items).filter { $0.1.hasStatus && $0.1.status.code != 0 }.map(\.0.agentID)
                    if !failed.isEmpty { forget(failed) }
                } catch {
                    logger.debug("agents not recorded in DBOS; again with their next heartbeats", metadata: ["error": "\(error)"])
                    forget(chunk.map(\.agentID))
                }
            }
        }
    }
}
