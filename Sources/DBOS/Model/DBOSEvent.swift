/// One entry of the audit log: a state change, a stored or deleted result, a task transition or
/// an agent registration, with who did it and when (Redis clock).
public struct DBOSEvent: Sendable, Hashable {
    /// The stream entry id (`<ms>-<seq>`), also the paging cursor.
    public var id: String
    /// `state.<name>`, `result.stored`, `result.deleted`, `task.<transition>`, `agent.registered`, `agent.updated`.
    public var kind: String
    /// The request, task or agent id the event is about.
    public var subject: String
    public var actor: String
    public var atMilliseconds: Int64
    public var detail: String
}
