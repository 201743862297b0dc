import RedisClient

enum AgentScripts {
    /// KEYS: agent, agents index, events. ARGV: id, info, actor, events maxlen.
    /// Always refreshes last_seen; writes an event only when the agent is new or its info changed,
    /// so heartbeats do not flood the audit log. Returns {registered | updated | seen, agent}.
    static let register = RedisScript(
        StateScripts.prelude + """

            local previous = redis.call('HGET', KEYS[1], 'info')
            local outcome = 'seen'
            if not previous then
              outcome = 'registered'
              redis.call('HSET', KEYS[1], 'id', ARGV[1], 'first_seen_ms', now)
            elseif previous ~= ARGV[2] then
              outcome = 'updated'
            end
            redis.call('HSET', KEYS[1], 'info', ARGV[2], 'last_seen_ms', now)
            redis.call('ZADD', KEYS[2], now, ARGV[1])
            if outcome ~= 'seen' then event(KEYS[3], ARGV[4], 'agent.' .. outcome, ARGV[1], ARGV[3], '') end
            return { outcome, redis.call('HGETALL', KEYS[1]) }
            """)
}
