import Foundation
import IMNCore
import Synchronization

/// Agents as their heartbeats describe them, with the time each was last heard (monotonic).
public final class AgentRegistry: Sendable {
    public struct Entry: Sendable {
        public var heartbeat: Heartbeat
        public var lastSeen: ContinuousClock.Instant
    }

    private let entries = Mutex<[String: Entry]>([:])
    let timeout: Duration

    init(timeout: Duration) { self.timeout = timeout }

    /// Records a heartbeat; true when the agent is new or its modules changed.
    @discardableResult
    func record(_ heartbeat: Heartbeat) -> Bool {
        entries.withLock { entries in
            let changed = entries[heartbeat.agentID]?.heartbeat.modules != heartbeat.modules
            entries[heartbeat.agentID] = Entry(heartbeat: heartbeat, lastSeen: .now)
            return changed
        }
    }

    /// An agent as DBOS remembers it; a heartbeat heard meanwhile wins.
    func restore(_ heartbeat: Heartbeat, lastSeen: ContinuousClock.Instant) {
        entries.withLock { entries in
            if let current = entries[heartbeat.agentID], current.lastSeen >= lastSeen { return }
            entries[heartbeat.agentID] = Entry(heartbeat: heartbeat, lastSeen: lastSeen)
        }
    }

    public func entry(_ id: String) -> Entry? { entries.withLock { $0[id] } }

    public func isAlive(_ entry: Entry) -> Bool { ContinuousClock.now - entry.lastSeen <= timeout }

    public var all: [Entry] { entries.withLock { Array($0.values) }.sorted { $0.heartbeat.agentID < $1.heartbeat.agentID } }
}
