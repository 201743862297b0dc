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
        local function create_state(key, log, index, stream, maxlen, request, agent, module, actor, detail)
          redis.call('HSET', key, 'request_id', request, 'agent_id', agent, 'module', module,
            'state', 'created', 'version', 1, 'created_ms', now, 'updated_ms', now, 'actor', actor, 'detail', detail)
          redis.call('ZADD', index, now, request)
          redis.call('RPUSH', log, cjson.encode({ to = 'created', version = 1, at_ms = now, actor = actor, detail = detail }))
          event(stream, maxlen, 'state.created', request, actor, agent .. '/' .. module .. ' v1')
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
              create_state(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[8], ARGV[1], ARGV[2], ARGV[3], ARGV[6], ARGV[7])
              return { 'ok', redis.call('HGETALL', KEYS[1]) }
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
