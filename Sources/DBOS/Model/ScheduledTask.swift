/// A task in the DBOS queue: a one-off run, a fixed interval, or a cron schedule.
/// States: pending (by due time) → inflight (leased, by deadline) → done | dead; a recurring task
/// goes back to pending for its next run when acknowledged.
public struct ScheduledTask: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case once
        case interval(milliseconds: Int64)
        case cron(String)
    }
    public enum State: String, Sendable, Hashable { case pending, inflight, done, dead }

    public var id: String
    public var kind: Kind
    public var payload: [UInt8]
    public var state: State
    /// When the (next) run is due, ms since 1970 (Redis clock).
    public var dueAtMilliseconds: Int64
    /// No run after this time (0: none).
    public var endAtMilliseconds: Int64
    /// Deliveries of the current run so far; raised at each claim.
    public var deliveries: Int
    public var maxDeliveries: Int
    /// How long a claim lasts before the task returns to pending.
    public var visibilityTimeoutMilliseconds: Int64
    /// The current lease token while inflight; ack and nack must present it.
    public var leaseToken: String
    public var leaseDeadlineMilliseconds: Int64
    public var owner: String
    public var runs: Int
    public var lastError: String
    public var createdAtMilliseconds: Int64
    public var updatedAtMilliseconds: Int64
}

/// What ``DBOSStore/scheduleTask(_:)`` needs.
public struct TaskRequest: Sendable, Hashable {
    /// Given: scheduling the same id twice returns the first task. Empty: DBOS makes one.
    public var id: String
    public var kind: ScheduledTask.Kind
    public var payload: [UInt8]
    /// First run; nil: now (interval) or the next cron time.
    public var startAtMilliseconds: Int64?
    public var endAtMilliseconds: Int64?
    public var maxDeliveries: Int = 5
    public var visibilityTimeoutMilliseconds: Int64 = 30_000
    /// Housekeeping: left out of ``DBOSStore/listTasks(limit:cursor:)`` and forgotten a day
    /// after it is done, so one per measurement does not pile up.
    public var ephemeral = false

    public init(id: String = "", kind: ScheduledTask.Kind, payload: [UInt8]) {
        self.id = id
        self.kind = kind
        self.payload = payload
    }
}
