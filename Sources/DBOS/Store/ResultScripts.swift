import RedisClient

/// Lua scripts for results.
enum ResultScripts {
    /// KEYS: result, idempotency marker, agent's result index, events, the request's state.
    /// ARGV: request id, idempotency window (s), events maxlen, dbos server id, retention (ms, 0:
    /// for ever), then field/value pairs of the result.
    /// The sweep removes a result with its measurement or state; a result stored when its state is
    /// not there (swept already: ingestion was behind on a loaded machine) would never be swept,
    /// so it expires on its own one retention after it is stored.
    /// Returns {outcome, flat hash}: stored | duplicate | deleted (stored once, since deleted).
    static let store = RedisScript(
        StateScripts.prelude + """

            if redis.call('EXISTS', KEYS[1]) == 1 then return { 'duplicate', redis.call('HGETALL', KEYS[1]) } end
            if not redis.call('SET', KEYS[2], now, 'NX', 'EX', ARGV[2]) then return { 'deleted', {} } end
            local fields = { 'received_ms', now, 'dbos_server_id', ARGV[4] }
            for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
            redis.call('HSET', KEYS[1], unpack(fields))
            local agent = redis.call('HGET', KEYS[1], 'agent_id')
            redis.call('ZADD', KEYS[3], now, ARGV[1])
            local retention = tonumber(ARGV[5])
            if retention > 0 and redis.call('EXISTS', KEYS[5]) == 0 then redis.call('PEXPIRE', KEYS[1], retention) end
            event(KEYS[4], ARGV[3], 'result.stored', ARGV[1], ARGV[4], agent .. '/' .. (redis.call('HGET', KEYS[1], 'module') or ''))
            return { 'stored', redis.call('HGETALL', KEYS[1]) }
            """)

    /// KEYS: result, agent's result index, events. ARGV: request id, actor, events maxlen.
    /// The idempotency marker stays, so a late duplicate cannot bring a deleted result back.
    static let delete = RedisScript(
        StateScripts.prelude + """

            if redis.call('DEL', KEYS[1]) == 0 then return 0 end
            redis.call('ZREM', KEYS[2], ARGV[1])
            event(KEYS[3], ARGV[3], 'result.deleted', ARGV[1], ARGV[2], '')
            return 1
            """)
}
