import IMNCore
import Synchronization

/// The modules an agent has, whether each is enabled, and how many runs each has going.
/// Admission is atomic: a run either gets a slot under the module's concurrency limit or is
/// rejected as overloaded.
public final class ModuleHost: Sendable {
    private struct Entry {
        var module: any MeasurementModule
        var enabled: Bool
        var running: Int
    }
    private let entries = Mutex<[String: Entry]>([:])
    /// Runs of all modules together; see ``limitRuns(to:)``.
    private let totalLimit = Mutex(Int.max)
    /// Bumped whenever the set of modules changes, so heartbeats can be sent at once.
    private let changes = Mutex(0)

    public init(_ modules: [any MeasurementModule] = []) {
        for module in modules { install(module) }
    }

    public func install(_ module: any MeasurementModule) {
        entries.withLock { $0[module.spec.name] = Entry(module: module, enabled: true, running: $0[module.spec.name]?.running ?? 0) }
        changes.withLock { $0 += 1 }
    }

    public func remove(_ name: String) {
        entries.withLock { _ = $0.removeValue(forKey: name) }
        changes.withLock { $0 += 1 }
    }

    /// Enables or disables a module; false when there is no such module.
    @discardableResult
    public func setEnabled(_ name: String, _ enabled: Bool) -> Bool {
        let found = entries.withLock { entries -> Bool in
            guard entries[name] != nil else { return false }
            entries[name]?.enabled = enabled
            return true
        }
        if found { changes.withLock { $0 += 1 } }
        return found
    }

    public var generation: Int { changes.withLock { $0 } }

    public var specs: [ModuleSpec] {
        entries.withLock { entries in
            entries.values.map { entry in
                var spec = entry.module.spec
                spec.enabled = entry.enabled
                return spec
            }.sorted { $0.name < $1.name }
        }
    }

    public func running(_ name: String) -> Int { entries.withLock { $0[name]?.running ?? 0 } }

    /// At most `limit` runs of all modules at once (each module also has its own limit).
    public func limitRuns(to limit: Int) { totalLimit.withLock { $0 = max(1, limit) } }

    public enum Admission {
        case admitted(any MeasurementModule)
        case unknown
        case disabled
        case overloaded(limit: Int)
        /// The agent as a whole runs its limit of measurements.
        case agentOverloaded(limit: Int)
    }

    /// Takes a run slot; pair every `.admitted` with ``release(_:)``.
    public func admit(_ name: String) -> Admission {
        let total = totalLimit.withLock { $0 }
        return entries.withLock { entries in
            guard let entry = entries[name] else { return .unknown }
            guard entry.enabled else { return .disabled }
            let limit = max(1, entry.module.spec.maxConcurrency)
            guard entry.running < limit else { return .overloaded(limit: limit) }
            guard entries.values.reduce(0, { $0 + $1.running }) < total else { return .agentOverloaded(limit: total) }
            entries[name]?.running += 1
            return .admitted(entry.module)
        }
    }

    public func release(_ name: String) {
        entries.withLock { entries in
            if let running = entries[name]?.running, running > 0 { entries[name]?.running = running - 1 }
        }
    }
}
