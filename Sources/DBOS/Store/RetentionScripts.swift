import RedisClient

/// The retention sweep: what has ended and is older than the retention age goes, in one atomic
/// step per batch, aged on the Redis clock.
enum RetentionScripts {
    /// KEYS: measurements index, states index, events.
    /// ARGV: key prefix, retention (ms), batch limit, events maxlen, actor.
    /// A measurement goes (with its runs' states, logs and results, and their index entries) once
    /// it was created more than the retention ago and every run has ended; a state outside any
    /// measurement (an untracked request) likewise. Nothing still running is touched, and the
    /// results' idempotency markers keep their own expiry. Returns {measurements, states,
    /// results, examined} removed / looked at.
    static let sweep = RedisScript(
        StateScripts.prelude + """

            local prefix, cutoff, limit = ARGV[1], now - tonumber(ARGV[2]), tonumber(ARGV[3])
            local ended = { completed = true, error = true, failed = true }
            local removed = { 0, 0, 0 }
            local function has_ended(request)
              local state = redis.call('HGET', prefix .. 'state:' .. request, 'state')
              return (not state) or ended[state]
            end
            local function remove_run(request)
              local key = prefix .. 'state:' .. request
              local agent = redis.call('HGET', key, 'agent_id')
              if redis.call('DEL', key) == 1 then removed[2] = removed[2] + 1 end
              redis.call('DEL', key .. ':log')
              redis.call('ZREM', KEYS[2], request)
              if redis.call('DEL', prefix .. 'result:' .. request) == 1 then removed[3] = removed[3] + 1 end
              if agent then redis.call('ZREM', prefix .. 'results:agent:' .. agent, request) end
            end
            local examined = 0
            for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. cutoff, 'LIMIT', 0, limit)) do
              examined = examined + 1
              local key = prefix .. 'measurement:' .. id
              local runs = cjson.decode(redis.call('HGET', key, 'runs') or '[]')
              local done = true
              for _, run in ipairs(runs) do
                if not has_ended(run[1]) then done = false break end
              end
              if done then
                for _, run in ipairs(runs) do remove_run(run[1]) end
                redis.call('DEL', key)
                redis.call('ZREM', KEYS[1], id)
                removed[1] = removed[1] + 1
              end
            end
            -- States no measurement holds (a measurement's runs are named <measurement> or <measurement>~<agent>).
            for _, request in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. cutoff, 'LIMIT', 0, limit)) do
              examined = examined + 1
              local owner = string.match(request, '^(.-)~') or request
              if redis.call('EXISTS', prefix .. 'measurement:' .. owner) == 0 and has_ended(request) then remove_run(request) end
            end
            if removed[1] + removed[2] + removed[3] > 0 then
              event(KEYS[3], ARGV[4], 'retention.swept', '', ARGV[5],
                removed[1] .. ' measurements, ' .. removed[2] .. ' states, ' .. removed[3] .. ' results')
            end
            return { removed[1], removed[2], removed[3], examined }
            """)
}
