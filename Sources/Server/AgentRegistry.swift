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

    func record(_ heartbeat: Heartbeat) {
        entries.withLock { $0[heartbeat.agentID] = Entry(heartbeat: heartbeat, lastSeen: .now) }
    }

    public func entry(_ id: String) -> Entry? { entries.withLock { $0[id] } }

    public func isAlive(_ entry: Entry) -> Bool { ContinuousClock.now - entry.lastSeen <= timeout }

    public var all: [Entry] { entries.withLock { Array($0.values) }.sorted { $0.heartbeat.agentID < $1.heartbeat.agentID } }
}
