@_exported import enum IMNCore.ModuleStateName

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
