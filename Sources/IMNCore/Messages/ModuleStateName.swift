/// Where a measurement request stands. The order is fixed:
/// created → started → running → completed | error | failed, and `failed` (the system gave
/// up: no agent answered, a timeout) may also end `created` or `started`.
public enum ModuleStateName: String, Sendable, Hashable, Codable, CaseIterable {
    case created, started, running, completed, error, failed

    public var isTerminal: Bool { self == .completed || self == .error || self == .failed }

    /// How far along the path: created 0, started 1, running 2, any terminal state 3.
    public var step: Int {
        switch self {
        case .created: 0
        case .started: 1
        case .running: 2
        case .completed, .error, .failed: 3
        }
    }

    /// The states this one may move to.
    public var successors: Set<ModuleStateName> {
        switch self {
        case .created: [.started, .failed]
        case .started: [.running, .failed]
        case .running: [.completed, .error, .failed]
        case .completed, .error, .failed: []
        }
    }
}
