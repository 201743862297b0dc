import RedisClient

/// Every Redis key DBOS uses, in one place, all under one prefix (default `imn:`).
///
/// | key | type | holds |
/// |---|---|---|
/// | `<p>agent:<id>` | hash | `info` (agent JSON), `first_seen_ms`, `last_seen_ms` |
/// | `<p>agents` | zset | agent ids by last heartbeat (ms) |
/// | `<p>state:<request>` | hash | one module state (fields of ``ModuleState``) |
/// | `<p>state:<request>:log` | list | its transitions, JSON, oldest first |
/// | `<p>states` | zset | request ids by creation time (ms) |
/// | `<p>result:<request>` | hash | one stored result |
/// | `<p>idem:result:<request>` | string | idempotency marker, expires after the idempotency window |
/// | `<p>results:agent:<agent>` | zset | request ids of an agent's results by receive time (ms) |
/// | `<p>measurement:<id>` | hash | one measurement: module, spec, runs (JSON), created_ms, actor |
/// | `<p>measurements` | zset | measurement ids by creation time (ms) |
/// | `<p>task:<id>` | hash | one scheduled task |
/// | `<p>tasks:pending` | zset | task ids by due time (ms) |
/// | `<p>tasks:inflight` | zset | task ids by lease deadline (ms) |
/// | `<p>tasks:dead` | zset | dead-lettered task ids by time (ms) |
/// | `<p>tasks:all` | zset | every task id by creation time (ms) |
/// | `<p>tasks:lease` | string | counter making lease tokens unique |
/// | `<p>events` | stream | the audit log (`XADD … MAXLEN ~`) |
public struct DBOSKeys: Sendable {
    public let prefix: String

    public init(prefix: String = "imn:") { self.prefix = prefix }

    func agent(_ id: String) -> RedisArgument { RedisArgument(prefix + "agent:" + id) }
    var agents: RedisArgument { RedisArgument(prefix + "agents") }
    func state(_ requestID: String) -> RedisArgument { RedisArgument(prefix + "state:" + requestID) }
    func stateLog(_ requestID: String) -> RedisArgument { RedisArgument(prefix + "state:" + requestID + ":log") }
    var states: RedisArgument { RedisArgument(prefix + "states") }
    func result(_ requestID: String) -> RedisArgument { RedisArgument(prefix + "result:" + requestID) }
    func resultMarker(_ requestID: String) -> RedisArgument { RedisArgument(prefix + "idem:result:" + requestID) }
    func agentResults(_ agentID: String) -> RedisArgument { RedisArgument(prefix + "results:agent:" + agentID) }
    func measurement(_ id: String) -> RedisArgument { RedisArgument(prefix + "measurement:" + id) }
    var measurements: RedisArgument { RedisArgument(prefix + "measurements") }
    func task(_ id: String) -> RedisArgument { RedisArgument(prefix + "task:" + id) }
    /// Scripts that touch several tasks build task keys from this.
    var taskPrefix: RedisArgument { RedisArgument(prefix + "task:") }
    var pendingTasks: RedisArgument { RedisArgument(prefix + "tasks:pending") }
    var inflightTasks: RedisArgument { RedisArgument(prefix + "tasks:inflight") }
    var deadTasks: RedisArgument { RedisArgument(prefix + "tasks:dead") }
    var allTasks: RedisArgument { RedisArgument(prefix + "tasks:all") }
    var leaseCounter: RedisArgument { RedisArgument(prefix + "tasks:lease") }
    var events: RedisArgument { RedisArgument(prefix + "events") }
}
