import Foundation
import IMNCore
import Synchronization

/// Agents as their heartbeats describe them, with the time each was last heard (monotonic).
/// Which agents are alive is kept as heartbeats arrive, not by scanning every agent: each
/// heartbeat files its agent under the second its silence would end, and ``sweep()`` looks only
/// at the agents filed under seconds that have passed.
public final class AgentRegistry: Sendable {
    public struct Entry: Sendable {
        public var heartbeat: Heartbeat
        public var lastSeen: ContinuousClock.Instant
        /// "<module>: unsupported schema keyword <k>" for every keyword the server cannot check,
        /// worked out when the agent's modules change, not on every read.
        public var schemaWarnings: [String]
    }

    /// What a heartbeat changed.
    struct Recorded {
        /// The heartbeat as recorded: an omitted module list filled in from the agent's last.
        var heartbeat: Heartbeat
        /// The schema warnings when the agent is new or its modules changed; nil otherwise.
        var warnings: [String]?
        /// The agent was dead or unknown and is alive now.
        var cameAlive: Bool
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var alive: Set<String> = []
        /// Second (since `origin`) → agents whose silence would make them dead then.
        var expiries: [Int64: [String]] = [:]
        var lastSwept: Int64 = 0
        /// Module → agents advertising it, with their locations: what a measurement picks from.
        var offering: [String: [String: AgentLocation?]] = [:]

        /// Files `heartbeat` under its modules, after taking out what `previous` had filed.
        mutating func index(_ heartbeat: Heartbeat, previous: Heartbeat?) {
            if let previous, previous.modules == heartbeat.modules, previous.location == heartbeat.location { return }
            for module in previous?.modules ?? [] { offering[module.name]?[heartbeat.agentID] = nil }
            for module in heartbeat.modules { offering[module.name, default: [:]][heartbeat.agentID] = .some(heartbeat.location) }
        }
    }

    private let state = Mutex(State())
    private let origin = ContinuousClock.now
    let timeout: Duration

    init(timeout: Duration) { self.timeout = timeout }

    /// Records a heartbeat.
    @discardableResult
    func record(_ heard: Heartbeat) -> Recorded {
        let previous = state.withLock { $0.entries[heard.agentID] }
        var heartbeat = heard
        if heard.modulesOmitted, let previous {
            heartbeat.modules = previous.heartbeat.modules
            heartbeat.modulesOmitted = previous.heartbeat.modulesOmitted
        }
        let changed = previous?.heartbeat.modules != heartbeat.modules
        let warnings = changed ? Self.schemaWarnings(heartbeat.modules) : previous?.schemaWarnings ?? []
        let now = ContinuousClock.now
        let cameAlive = state.withLock { state in
            state.index(heartbeat, previous: previous?.heartbeat)
            state.entries[heartbeat.agentID] = Entry(heartbeat: heartbeat, lastSeen: now, schemaWarnings: warnings)
            file(heartbeat.agentID, lastSeen: now, in: &state)
            return state.alive.insert(heartbeat.agentID).inserted
        }
        return Recorded(heartbeat: heartbeat, warnings: changed ? warnings : nil, cameAlive: cameAlive)
    }

    /// An agent as DBOS remembers it; a heartbeat heard meanwhile wins.
    func restore(_ heartbeat: Heartbeat, lastSeen: ContinuousClock.Instant) {
        let warnings = Self.schemaWarnings(heartbeat.modules)
        let now = ContinuousClock.now
        state.withLock { state in
            if let current = state.entries[heartbeat.agentID], current.lastSeen >= lastSeen { return }
            state.index(heartbeat, previous: state.entries[heartbeat.agentID]?.heartbeat)
            state.entries[heartbeat.agentID] = Entry(heartbeat: heartbeat, lastSeen: lastSeen, schemaWarnings: warnings)
            if now - lastSeen <= timeout {
                state.alive.insert(heartbeat.agentID)
                file(heartbeat.agentID, lastSeen: lastSeen, in: &state)
            } else {
                state.alive.remove(heartbeat.agentID)
            }
        }
    }

    private func file(_ id: String, lastSeen: ContinuousClock.Instant, in state: inout State) {
        state.expiries[expirySecond(lastSeen), default: []].append(id)
    }

    /// The first whole second (since `origin`) at which an agent last heard at `lastSeen` is surely silent too long.
    private func expirySecond(_ lastSeen: ContinuousClock.Instant) -> Int64 {
        Int64(((lastSeen + timeout - origin) / .seconds(1)).rounded(.up)) + 1
    }

    /// The agents that have gone silent since the last sweep (call it about once a second).
    func sweep() -> [String] {
        let now = ContinuousClock.now
        let second = Int64((now - origin) / .seconds(1))
        return state.withLock { state in
            var dead: [String] = []
            guard second > state.lastSwept else { return dead }
            for due in (state.lastSwept + 1)...second {
                guard let ids = state.expiries.removeValue(forKey: due) else { continue }
                for id in ids where state.alive.contains(id) {
                    guard let entry = state.entries[id] else { continue }
                    if now - entry.lastSeen > timeout {
                        state.alive.remove(id)
                        dead.append(id)
                    } else if expirySecond(entry.lastSeen) <= due {
                        state.expiries[second + 1, default: []].append(id)  // not quite yet, and filed nowhere later
                    }
                }
            }
            state.lastSwept = second
            return dead.sorted()
        }
    }

    static func schemaWarnings(_ modules: [ModuleSpec]) -> [String] {
        modules.flatMap { module in
            JSONSchema(module.inputSchema).unsupportedKeywords.map { "\(module.name): unsupported schema keyword \($0)" }
        }
    }

    public func entry(_ id: String) -> Entry? { state.withLock { $0.entries[id] } }

    /// Heard within the timeout, exactly (``counts`` may lag by up to a second).
    public func isAlive(_ entry: Entry) -> Bool { ContinuousClock.now - entry.lastSeen <= timeout }

    /// Agents known and alive, without looking at each.
    var counts: (total: Int, alive: Int) { state.withLock { ($0.entries.count, $0.alive.count) } }

    /// An agent a measurement may pick: alive and advertising the module it runs.
    struct Candidate: Sendable {
        var agentID: String
        var location: AgentLocation?
    }

    /// The agents alive that advertise `module`, in no order — from the per-module index, without
    /// copying each entry or sorting: a measurement picks from thousands. (Alive as the sweep
    /// keeps it, up to a second behind; a command to an agent gone meanwhile fails its run.)
    func candidates(module: String) -> [Candidate] {
        state.withLock { state in
            guard let offering = state.offering[module] else { return [] }
            var candidates: [Candidate] = []
            candidates.reserveCapacity(offering.count)
            for (id, location) in offering where state.alive.contains(id) { candidates.append(Candidate(agentID: id, location: location)) }
            return candidates
        }
    }

    public var all: [Entry] { state.withLock { Array($0.entries.values) }.sorted { $0.heartbeat.agentID < $1.heartbeat.agentID } }
}
