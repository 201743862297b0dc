import RedisClient

/// The task queue's scripts. Claim, ack, nack and the reaper each run as one script with
/// `now` from the Redis clock; every claim issues a fresh lease token and ack/nack must
/// present it, so a worker whose lease expired cannot complete a task someone else now holds.
enum TaskQueueScripts {
    static let prelude =
        StateScripts.prelude + """

            local function requeue_or_bury(prefix, id, pending, inflight, dead, stream, maxlen, reason, delay)
              local key = prefix .. id
              local t = redis.call('HMGET', key, 'deliveries', 'max_deliveries')
              redis.call('ZREM', inflight, id)
              if tonumber(t[1]) >= tonumber(t[2]) then
                redis.call('HSET', key, 'state', 'dead', 'lease', '', 'updated_ms', now, 'last_error', reason)
                redis.call('ZADD', dead, now, id)
                event(stream, maxlen, 'task.dead', id, 'dbos', reason)
              else
                redis.call('HSET', key, 'state', 'pending', 'lease', '', 'due_ms', now + delay, 'updated_ms', now, 'last_error', reason)
                redis.call('ZADD', pending, now + delay, id)
                event(stream, maxlen, 'task.requeued', id, 'dbos', reason)
              end
            end
            local function new_task(key, pending, all, stream, maxlen, id, kind, payload, due, interval, cron, ends, deliveries, visibility, actor, ephemeral)
              redis.call('HSET', key, 'id', id, 'kind', kind, 'payload', payload, 'due_ms', due,
                'interval_ms', interval, 'cron', cron, 'end_ms', ends, 'max_deliveries', deliveries,
                'visibility_ms', visibility, 'deliveries', 0, 'runs', 0, 'state', 'pending', 'lease', '',
                'deadline_ms', 0, 'owner', '', 'last_error', '', 'created_ms', now, 'updated_ms', now, 'ephemeral', ephemeral)
              redis.call('ZADD', pending, due, id)
              if ephemeral ~= '1' then redis.call('ZADD', all, now, id) end
              event(stream, maxlen, 'task.scheduled', id, actor, kind)
            end
            """

    /// KEYS: task, pending, all, events.
    /// ARGV: id, kind, payload, first due (0: now), interval ms, cron, end ms, max deliveries,
    /// visibility ms, actor, events maxlen, ephemeral (1 or 0). Returns {created | exists, task}.
    static let schedule = RedisScript(
        prelude + """

            if redis.call('EXISTS', KEYS[1]) == 1 then return { 'exists', redis.call('HGETALL', KEYS[1]) } end
            local due = tonumber(ARGV[4])
            if due == 0 then due = now end
            new_task(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[11], ARGV[1], ARGV[2], ARGV[3], due, ARGV[5], ARGV[6], ARGV[7],
              ARGV[8], ARGV[9], ARGV[10], ARGV[12])
            return { 'created', redis.call('HGETALL', KEYS[1]) }
            """)

    /// KEYS: pending, inflight, dead, lease counter, events.
    /// ARGV: task key prefix, how many, worker, events maxlen.
    /// Reaps expired leases first, then claims up to N due tasks. Returns a list of tasks.
    static let claim = RedisScript(
        prelude + """

            local prefix, limit, worker, maxlen = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
            local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 256)
            for _, id in ipairs(expired) do
              requeue_or_bury(prefix, id, KEYS[1], KEYS[2], KEYS[3], KEYS[5], maxlen, 'lease expired', 0)
            end
            local claimed = {}
            local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
            for _, id in ipairs(due) do
              local key = prefix .. id
              local visibility = tonumber(redis.call('HGET', key, 'visibility_ms'))
              local deliveries = redis.call('HINCRBY', key, 'deliveries', 1)
              local token = redis.call('INCR', KEYS[4]) .. '-' .. now
              local deadline = now + visibility
              redis.call('HSET', key, 'state', 'inflight', 'lease', token, 'deadline_ms', deadline, 'owner', worker, 'updated_ms', now)
              redis.call('ZREM', KEYS[1], id)
              redis.call('ZADD', KEYS[2], deadline, id)
              event(KEYS[5], maxlen, 'task.claimed', id, worker, 'delivery ' .. deliveries)
              claimed[#claimed + 1] = redis.call('HGETALL', key)
            end
            return claimed
            """)

    /// KEYS: task, inflight, pending, events.
    /// ARGV: id, lease token, next cron run (ms; 0 if not cron), actor, events maxlen.
    /// Returns {ok | stale | notfound, task}. Acking again with the same token is ok.
    static let ack = RedisScript(
        prelude + """

            if redis.call('EXISTS', KEYS[1]) == 0 then return { 'notfound', {} } end
            local t = redis.call('HMGET', KEYS[1], 'state', 'lease', 'acked_lease', 'kind', 'due_ms', 'interval_ms', 'end_ms', 'ephemeral')
            if t[3] == ARGV[2] then return { 'ok', redis.call('HGETALL', KEYS[1]) } end
            if t[1] ~= 'inflight' or t[2] ~= ARGV[2] then return { 'stale', redis.call('HGETALL', KEYS[1]) } end
            redis.call('ZREM', KEYS[2], ARGV[1])
            redis.call('HINCRBY', KEYS[1], 'runs', 1)
            local nextRun = 0
            if t[4] == 'interval' then
              local interval = tonumber(t[6])
              nextRun = tonumber(t[5]) + interval
              if nextRun <= now then nextRun = nextRun + math.ceil((now - nextRun + 1) / interval) * interval end
            elseif t[4] == 'cron' then
              nextRun = tonumber(ARGV[3])
            end
            local finish = tonumber(t[7])
            if nextRun == 0 or (finish > 0 and nextRun > finish) then
              redis.call('HSET', KEYS[1], 'state', 'done', 'lease', '', 'acked_lease', ARGV[2], 'updated_ms', now)
              -- A finished housekeeping task is kept a day (GetTask, a repeated ack), then
              -- forgotten: servers schedule one per measurement (its deadline).
              if t[8] == '1' then redis.call('PEXPIRE', KEYS[1], 86400000) end
              event(KEYS[4], ARGV[5], 'task.done', ARGV[1], ARGV[4], '')
            else
              redis.call('HSET', KEYS[1], 'state', 'pending', 'lease', '', 'acked_lease', ARGV[2], 'due_ms', nextRun,
                'deliveries', 0, 'last_error', '', 'updated_ms', now)
              redis.call('ZADD', KEYS[3], nextRun, ARGV[1])
              event(KEYS[4], ARGV[5], 'task.acked', ARGV[1], ARGV[4], 'next run ' .. nextRun)
            end
            return { 'ok', redis.call('HGETALL', KEYS[1]) }
            """)

    /// KEYS: task, pending, inflight, dead, events.
    /// ARGV: task key prefix, id, lease token, delay ms, error, events maxlen.
    /// Returns {ok | stale | notfound, task}; after max deliveries the task is dead.
    static let nack = RedisScript(
        prelude + """

            if redis.call('EXISTS', KEYS[1]) == 0 then return { 'notfound', {} } end
            local t = redis.call('HMGET', KEYS[1], 'state', 'lease')
            if t[1] ~= 'inflight' or t[2] ~= ARGV[3] then return { 'stale', redis.call('HGETALL', KEYS[1]) } end
            requeue_or_bury(ARGV[1], ARGV[2], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[6], ARGV[5], tonumber(ARGV[4]))
            return { 'ok', redis.call('HGETALL', KEYS[1]) }
            """)

    /// KEYS: task, pending, inflight, dead, all, events. ARGV: id, actor, events maxlen.
    static let cancel = RedisScript(
        prelude + """

            if redis.call('DEL', KEYS[1]) == 0 then return 0 end
            for i = 2, 5 do redis.call('ZREM', KEYS[i], ARGV[1]) end
            event(KEYS[6], ARGV[3], 'task.cancelled', ARGV[1], ARGV[2], '')
            return 1
            """)
}
