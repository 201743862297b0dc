import RedisClient

/// Lua scripts for module states. Each checks and applies in one step, so no other client can
/// interleave between the check and the write (Redis runs a script atomically).
enum StateScripts {
    /// Shared by the scripts: the Redis clock in ms, and an audit event.
    static let prelude = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local function event(stream, maxlen, kind, id, actor, detail)
          redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'kind', kind, 'id', id, 'actor', actor, 'at_ms', now, 'detail', detail)
        end
        """

    /// KEYS: state, state log, states index, events.
    /// ARGV: request id, agent id, module, new state, expected version, actor, detail, events maxlen.
    /// Returns {outcome, flat hash}: outcome is ok | aborted | illegal | notfound.
    static let set = RedisScript(
        prelude + """

            local allowed = {
              created = { started = true, failed = true },
              started = { running = true, failed = true },
              running = { completed = true, error = true, failed = true },
            }
            local new, expected = ARGV[4], tonumber(ARGV[5])
            local from = false
            local version = 1
            if redis.call('EXISTS', KEYS[1]) == 0 then
              if expected ~= 0 then return { 'notfound', {} } end
              if new ~= 'created' then return { 'illegal', {} } end
              redis.call('HSET', KEYS[1], 'request_id', ARGV[1], 'agent_id', ARGV[2], 'module', ARGV[3],
                'state', new, 'version', 1, 'created_ms', now, 'updated_ms', now, 'actor', ARGV[6], 'detail', ARGV[7])
              redis.call('ZADD', KEYS[3], now, ARGV[1])
            else
              local current = redis.call('HMGET', KEYS[1], 'state', 'version')
              if tonumber(current[2]) ~= expected then return { 'aborted', redis.call('HGETALL', KEYS[1]) } end
              if not (allowed[current[1]] and allowed[current[1]][new]) then
                return { 'illegal', redis.call('HGETALL', KEYS[1]) }
              end
              from = current[1]
              version = tonumber(current[2]) + 1
              redis.call('HSET', KEYS[1], 'state', new, 'version', version, 'updated_ms', now, 'actor', ARGV[6], 'detail', ARGV[7])
            end
            local entry = { to = new, version = version, at_ms = now, actor = ARGV[6], detail = ARGV[7] }
            if from then entry['from'] = from end
            redis.call('RPUSH', KEYS[2], cjson.encode(entry))
            event(KEYS[4], ARGV[8], 'state.' .. new, ARGV[1], ARGV[6], ARGV[2] .. '/' .. ARGV[3] .. ' v' .. version)
            return { 'ok', redis.call('HGETALL', KEYS[1]) }
            """)
}
