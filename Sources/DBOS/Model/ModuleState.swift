/// Where a measurement request stands. The order is fixed:
/// created → started → running → completed | error | failed, and `failed` (the system gave
/// up: no agent answered, a timeout) may also end `created` or `started`.
public enum ModuleStateName: String, Sendable, Hashable, Codable, CaseIterable {
    case created, started, running, completed, error, failed

    public var isTerminal: Bool { self == .completed || self == .error || self == .failed }

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

/// One transition, as kept in a state's history.
public struct ModuleStateTransition: Sendable, Hashable, Codable {
    public var from: ModuleStateName?
    public var to: ModuleStateName
    public var version: Int64
    public var atMilliseconds: Int64
    public var actor: String
    public var detail: String

    enum CodingKeys: String, CodingKey {
        case from, to, version, atMilliseconds = "at_ms", actor, detail
    }
}

/// The state of one measurement request, versioned.
public struct ModuleState: Sendable, Hashable {
    public var requestID: String
    public var agentID: String
    public var module: String
    public var state: ModuleStateName
    public var version: Int64
    public var createdAtMilliseconds: Int64
    public var updatedAtMilliseconds: Int64
    public var actor: String
    public var detail: String
    public var history: [ModuleStateTransition] = []
}
