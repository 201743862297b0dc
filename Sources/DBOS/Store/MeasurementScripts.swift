import RedisClient

/// The measurement script: a measurement, its runs' states and its deadline in one step.
enum MeasurementScripts {
    /// KEYS: measurement, measurements index, states index, events, pending tasks, all tasks.
    /// ARGV: id, module, spec, runs (JSON [[request, agent]…]), actor, events maxlen, key prefix,
    /// deadline task id ('' for none), its due ms, payload, max deliveries.
    /// Returns {1 | 0 (created or not), measurement hash, {state hash…}} — the runs and states of
    /// the record as first stored. Every run's state is created when missing, also on a repeat,
    /// so a measurement whose creation was interrupted is completed by its retry.
    static let create = RedisScript(
        TaskQueueScripts.prelude + """

            local prefix, maxlen, actor = ARGV[7], ARGV[6], ARGV[5]
            local created = 0
            if redis.call('EXISTS', KEYS[1]) == 0 then
              redis.call('HSET', KEYS[1], 'id', ARGV[1], 'module', ARGV[2], 'spec', ARGV[3], 'runs', ARGV[4], 'created_ms', now, 'actor', actor)
              redis.call('ZADD', KEYS[2], now, ARGV[1])
              event(KEYS[4], maxlen, 'measurement.created', ARGV[1], actor, ARGV[2])
              created = 1
            end
            local module = redis.call('HGET', KEYS[1], 'module')
            local states = {}
            for i, run in ipairs(cjson.decode(redis.call('HGET', KEYS[1], 'runs'))) do
              local key = prefix .. 'state:' .. run[1]
              if redis.call('EXISTS', key) == 0 then
                create_state(key, key .. ':log', KEYS[3], KEYS[4], maxlen, run[1], run[2], module, actor, '')
              end
              states[i] = redis.call('HGETALL', key)
            end
            if ARGV[8] ~= '' and redis.call('EXISTS', prefix .. 'task:' .. ARGV[8]) == 0 then
              new_task(prefix .. 'task:' .. ARGV[8], KEYS[5], KEYS[6], KEYS[4], maxlen, ARGV[8], 'once', ARGV[10], tonumber(ARGV[9]),
                0, '', 0, ARGV[11], 30000, actor, '1')
            end
            return { created, redis.call('HGETALL', KEYS[1]), states }
            """)
}
