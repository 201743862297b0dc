import RedisClient

extension DBOSStore {
    /// The audit log, oldest first; `cursor` is the id of the last event already seen.
    public func events(limit: Int = 0, cursor: String? = nil) async throws(DBOSError) -> Page<DBOSEvent> {
        let limit = try pageSize(limit)
        if let cursor {
            let parts = cursor.split(separator: "-")
            guard parts.count == 2, parts.allSatisfy({ UInt64($0) != nil }) else { throw DBOSError(.invalidArgument, "malformed cursor") }
        }
        let start = cursor.map { "(" + $0 } ?? "-"
        let reply = try await send(RedisCommand("XRANGE", keys.events, RedisArgument(start), "+", "COUNT", RedisArgument(limit)))
        let events = (reply.array ?? []).compactMap { entry -> DBOSEvent? in
            guard let parts = entry.array, parts.count == 2, let id = parts[0].text else { return nil }
            let fields = parts[1].hash
            return DBOSEvent(
                id: id, kind: fields.text("kind"), subject: fields.text("id"), actor: fields.text("actor"), atMilliseconds: fields.int("at_ms"),
                detail: fields.text("detail"))
        }
        return Page(items: events, nextCursor: events.count == limit ? events.last?.id : nil)
    }
}
