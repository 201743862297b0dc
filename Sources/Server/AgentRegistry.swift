import Foundation
import IMNCore
import Synchronization

/// Agents as their heartbeats describe them, with the time each was last heard (monotonic).
public final class AgentRegistry: Sendable {
    public struct Entry: Sendable {
        public var heartbeat: Heartbeat
        public var lastSeen: ContinuousClock.Instant
        /// "<module>: unsupported schema keyword <k>" for every keyword the server cannot check,
        /// worked out when the agent's modules change, not on every read.
        public var schemaWarnings: [String]
    }

    private let entries = Mutex<[String: Entry]>([:])
    let timeout: Duration

    init(timeout: Duration) { self.timeout = timeout }

    /// Records a heartbeat; returns the schema warnings when the agent is new or its modules
    /// changed (nil otherwise), so they are reported once.
    @discardableResult
    func record(_ heartbeat: Heartbeat) -> [String]? {
        let previous = entries.withLock { $0[heartbeat.agentID] }
        let changed = previous?.heartbeat.modules != heartbeat.modules
        let warnings = changed ? Self.schemaWarnings(heartbeat.modules) : previous?.schemaWarnings ?? []
        entries.withLock { $0[heartbeat.agentID] = Entry(heartbeat: heartbeat, lastSeen: .now, schemaWarnings: warnings) }
        return changed ? warnings : nil
    }

    /// An agent as DBOS remembers it; a heartbeat heard meanwhile wins.
    func restore(_ heartbeat: Heartbeat, lastSeen: ContinuousClock.Instant) {
        let warnings = Self.schemaWarnings(heartbeat.modules)
        entries.withLock { entries in
            if let current = entries[heartbeat.agentID], current.lastSeen >= lastSeen { return }
            entries[heartbeat.agentID] = Entry(heartbeat: heartbeat, lastSeen: lastSeen, schemaWarnings: warnings)
        }
    }

    static func schemaWarnings(_ modules: [ModuleSpec]) -> [String] {
        modules.flatMap { module in
            JSONSchema(module.inputSchema).unsupportedKeywords.map { "\(module.name): unsupported schema keyword \($0)" }
        }
    }

    public func entry(_ id: String) -> Entry? { entries.withLock { $0[id] } }

    public func isAlive(_ entry: Entry) -> Bool { ContinuousClock.now - entry.lastSeen <= timeout }

    public var all: [Entry] { entries.withLock { Array($0.values) }.sorted { $0.heartbeat.agentID < $1.heartbeat.agentID } }
}
