import Foundation
import IMNCore
import Synchronization

/// Turns what this replica hears into live events: heartbeats (every replica hears all of them)
/// aggregated per second, agents going up or down in this replica's registry, and every state
/// change announced on `imn.live.state` (by whichever replica stored it) — so a client sees
/// everything whichever replica it talks to.
final class LiveFeed: Sendable {
    let hub: LiveHub
    static let maxListedAgents = 1000
    /// What a heartbeat says, kept as plain values: JSON is made once a second, not per heartbeat.
    private struct Beat {
        var sequence: Int64
        var sentAt: Int64
        var modules: Int

        var json: JSONValue {
            ["sequence": .number(Double(sequence)), "sent_at_ms": .number(Double(sentAt)), "modules": .number(Double(modules))]
        }
    }

    private let heard = Mutex<[String: Beat]>([:])
    /// Agents that came up (true) or went down (false) this second.
    private let changes = Mutex<[String: Bool]>([:])

    init(hub: LiveHub) {
        self.hub = hub
    }

    /// A heartbeat, kept for this second's aggregate (the latest per agent).
    func heartbeat(_ heartbeat: Heartbeat) {
        let beat = Beat(sequence: heartbeat.sequence, sentAt: heartbeat.sentAtMilliseconds, modules: heartbeat.modules.count)
        heard.withLock { $0[heartbeat.agentID] = beat }
    }

    /// A state change: a `state` event, and a `result` event when it is terminal.
    func state(_ event: LiveStateEvent) {
        guard hub.hasClients else { return }  // no one watches: no JSON to make
        var common: [String: JSONValue] = [
            "id": .string(event.id), "agent_id": .string(event.agentID), "module": .string(event.module), "state": .string(event.state),
            "at_ms": .number(Double(event.atMilliseconds)),
        ]
        let measurementID = MeasurementLedger.measurementID(ofRun: event.id, agentID: event.agentID)
        common["measurement_id"] = .string(measurementID)
        hub.publish(LiveEvent(kind: .state, agentID: event.agentID, module: event.module, measurementID: measurementID, body: common))
        guard ModuleStateName(rawValue: event.state)?.isTerminal == true else { return }
        var result = common
        result["output"] = event.output ?? .null
        result["error"] = event.error.map(JSONValue.string) ?? .null
        hub.publish(LiveEvent(kind: .result, agentID: event.agentID, module: event.module, measurementID: measurementID, body: result))
    }

    /// An agent came up (its first heartbeat after silence) or went down (silent for the timeout).
    func agent(_ id: String, alive: Bool) {
        changes.withLock { $0[id] = alive }
    }

    /// Every second, the heartbeats heard in it and the agents that came up or went down, each as
    /// one event. Everyone gets counts (and the ids, up to a thousand); clients that follow some
    /// agents get those agents' entries. One event per agent to every dashboard would be millions
    /// of messages a second when thousands of agents start or stop together.
    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let now = Double(Date.nowMilliseconds)
            let beats = heard.withLock { heard in
                defer { heard = [:] }
                return heard
            }
            if !beats.isEmpty {
                var body: [String: JSONValue] = ["at_ms": .number(now), "count": .number(Double(beats.count))]
                if beats.count <= Self.maxListedAgents { body["agent_ids"] = .array(beats.keys.sorted().map(JSONValue.string)) }
                hub.publish(LiveEvent(kind: .heartbeats, body: body, perAgent: hub.followsAgents ? beats.mapValues(\.json) : [:]))
            }
            let changed = changes.withLock { changes in
                defer { changes = [:] }
                return changes
            }
            if !changed.isEmpty {
                let up = changed.filter(\.value).keys.sorted()
                let down = changed.filter { !$0.value }.keys.sorted()
                var body: [String: JSONValue] = [
                    "at_ms": .number(now), "up_count": .number(Double(up.count)), "down_count": .number(Double(down.count)),
                ]
                body["up"] = .array(up.prefix(Self.maxListedAgents).map(JSONValue.string))
                body["down"] = .array(down.prefix(Self.maxListedAgents).map(JSONValue.string))
                hub.publish(LiveEvent(kind: .agent, body: body, perAgent: changed.mapValues { ["alive": .bool($0)] }))
            }
        }
    }
}
