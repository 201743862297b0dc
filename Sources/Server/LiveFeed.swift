import Foundation
import IMNCore
import Synchronization

/// Turns what this replica hears into live events: heartbeats (every replica hears all of them)
/// aggregated per second, agents going up or down in this replica's registry, and every state
/// change announced on `imn.live.state` (by whichever replica stored it) — so a client sees
/// everything whichever replica it talks to.
final class LiveFeed: Sendable {
    let hub: LiveHub
    private let heard = Mutex<[String: JSONValue]>([:])

    init(hub: LiveHub) {
        self.hub = hub
    }

    /// A heartbeat, kept for this second's aggregate (the latest per agent).
    func heartbeat(_ heartbeat: Heartbeat) {
        let entry: JSONValue = [
            "sequence": .number(Double(heartbeat.sequence)), "sent_at_ms": .number(Double(heartbeat.sentAtMilliseconds)),
            "modules": .number(Double(heartbeat.modules.count)),
        ]
        heard.withLock { $0[heartbeat.agentID] = entry }
    }

    /// A state change: a `state` event, and a `result` event when it is terminal.
    func state(_ event: LiveStateEvent) {
        let common: [String: JSONValue] = [
            "id": .string(event.id), "agent_id": .string(event.agentID), "module": .string(event.module), "state": .string(event.state),
            "at_ms": .number(Double(event.atMilliseconds)),
        ]
        hub.publish(LiveEvent(kind: .state, agentID: event.agentID, module: event.module, body: common))
        guard ModuleStateName(rawValue: event.state)?.isTerminal == true else { return }
        var result = common
        result["output"] = event.output ?? .null
        result["error"] = event.error.map(JSONValue.string) ?? .null
        hub.publish(LiveEvent(kind: .result, agentID: event.agentID, module: event.module, body: result))
    }

    /// An agent came up (its first heartbeat after silence) or went down (silent for the timeout).
    func agent(_ id: String, alive: Bool) {
        let now = Double(Int64(Date().timeIntervalSince1970 * 1000))
        hub.publish(LiveEvent(kind: .agent, agentID: id, body: ["agent_id": .string(id), "alive": .bool(alive), "at_ms": .number(now)]))
    }

    /// Every second, the heartbeats heard in it as one event.
    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let beats = heard.withLock { heard in
                defer { heard = [:] }
                return heard
            }
            guard !beats.isEmpty else { continue }
            let now = Double(Int64(Date().timeIntervalSince1970 * 1000))
            hub.publish(
                LiveEvent(
                    kind: .heartbeats, body: ["at_ms": .number(now), "count": .number(Double(beats.count)), "agents": .object(beats)],
                    perAgent: beats))
        }
    }
}
