import RedisClient

extension DBOSStore {
    /// Records an agent's heartbeat: its info and the time DBOS heard it (Redis clock).
    /// Returns the record and whether this was its first registration.
    public func registerAgent(id: String, info: [UInt8], actor: String = "server") async throws(DBOSError) -> (agent: AgentRecord, new: Bool) {
        let call = try registerCall(id: id, info: info, actor: actor)
        return try Self.registerOutcome(try await run(AgentScripts.register, keys: call.keys, arguments: call.arguments))
    }

    /// Many registrations in one Redis round trip, each answered as its own call would be.
    public func registerAgents(
        _ agents: [(id: String, info: [UInt8], actor: String)]
    ) async -> [Result<(agent: AgentRecord, new: Bool), DBOSError>] {
        let calls = agents.map { agent in Result { () throws(DBOSError) in try registerCall(id: agent.id, info: agent.info, actor: agent.actor) } }
        return await runBatch(AgentScripts.register, calls) { (reply, _) throws(DBOSError) in try Self.registerOutcome(reply) }
    }

    func registerCall(id: String, info: [UInt8], actor: String) throws(DBOSError) -> RedisScriptCall {
        try Self.validateID(id, "agent id")
        guard info.count <= configuration.maxPayloadBytes else {
            throw DBOSError(.invalidArgument, "agent info of \(info.count) bytes is over the limit of \(configuration.maxPayloadBytes)")
        }
        return RedisScriptCall(
            keys: [keys.agent(id), keys.agents, keys.events],
            arguments: [RedisArgument(id), RedisArgument(info), RedisArgument(actor), RedisArgument(configuration.maxEvents)])
    }

    static func registerOutcome(_ reply: RedisReply) throws(DBOSError) -> (agent: AgentRecord, new: Bool) {
        guard let parts = reply.array, parts.count == 2, let outcome = parts[0].text, let agent = Self.agent(from: parts[1].hash) else {
            throw DBOSError(.internalError, "unexpected reply from the agent script")
        }
        return (agent, outcome == "registered")
    }

    public func getAgent(id: String) async throws(DBOSError) -> AgentRecord {
        try Self.validateID(id, "agent id")
        guard let agent = Self.agent(from: try await send(RedisCommand("HGETALL", keys.agent(id))).hash) else {
            throw DBOSError(.notFound, "no agent \(id)")
        }
        return agent
    }

    /// Agents by last heartbeat, oldest first; `seenSince` keeps only those heard since then.
    public func listAgents(seenSince: Int64? = nil, limit: Int = 0, cursor: String? = nil) async throws(DBOSError) -> Page<AgentRecord> {
        let limit = try pageSize(limit)
        return try await page(index: keys.agents, range: TimeRange(since: seenSince), cursor: cursor, limit: limit) { ids throws(DBOSError) in
            try await pipeline(ids.map { RedisCommand("HGETALL", keys.agent($0)) }).map { Self.agent(from: $0.hash) }
        }
    }

    static func agent(from fields: [String: [UInt8]]) -> AgentRecord? {
        guard !fields.isEmpty, !fields.text("id").isEmpty else { return nil }
        return AgentRecord(
            id: fields.text("id"), info: fields["info"] ?? [], firstSeenMilliseconds: fields.int("first_seen_ms"),
            lastSeenMilliseconds: fields.int("last_seen_ms"))
    }
}
