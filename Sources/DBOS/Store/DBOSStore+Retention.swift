import RedisClient

extension DBOSStore {
    /// What one sweep removed.
    public struct Swept: Sendable, Hashable {
        public var measurements = 0
        public var states = 0
        public var results = 0
        /// Index entries older than the retention that were looked at (removed or still running).
        public var examined = 0

        public init() {}
    }

    /// One bounded pass of retention (at most `limit` measurements and `limit` states looked at):
    /// ended measurements, states and results older than `retentionSeconds` go. Nothing when
    /// retention is 0 (keep for ever).
    public func sweep(limit: Int = 500) async throws(DBOSError) -> Swept {
        guard configuration.retentionSeconds > 0 else { return Swept() }
        let reply = try await run(
            RetentionScripts.sweep, keys: [keys.measurements, keys.states, keys.events],
            arguments: [
                RedisArgument(keys.prefix), RedisArgument(configuration.retentionSeconds * 1000), RedisArgument(limit),
                RedisArgument(configuration.maxEvents), RedisArgument(configuration.serverID),
            ])
        let counts = (reply.array ?? []).map { Int($0.integer ?? 0) }
        guard counts.count == 4 else { throw DBOSError(.internalError, "unexpected reply from the retention script: \(reply)") }
        var swept = Swept()
        (swept.measurements, swept.states, swept.results, swept.examined) = (counts[0], counts[1], counts[2], counts[3])
        return swept
    }

    /// How much is stored: measurements and module states held, and Redis's memory (used, and
    /// the `maxmemory` limit, 0 when none).
    public func storedCounts() async throws(DBOSError) -> (measurements: Int, states: Int, usedMemory: Int, maxMemory: Int) {
        let replies = try await pipeline([
            RedisCommand("ZCARD", keys.measurements), RedisCommand("ZCARD", keys.states), RedisCommand("INFO", "memory"),
        ])
        guard replies.count == 3 else { throw DBOSError(.internalError, "unexpected pipeline reply") }
        var memory: [String: Int] = [:]
        for line in (replies[2].text ?? "").split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, let value = Int(parts[1]) { memory[String(parts[0])] = value }
        }
        return (Int(replies[0].integer ?? 0), Int(replies[1].integer ?? 0), memory["used_memory"] ?? 0, memory["maxmemory"] ?? 0)
    }
}
