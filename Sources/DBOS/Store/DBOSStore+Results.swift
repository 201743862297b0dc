import RedisClient

extension DBOSStore {
    /// Stores a result once. The request id is the idempotency key: a second store of the same
    /// id stores nothing and returns the first record with `duplicate == true`.
    public func storeResult(_ result: StoredResult) async throws(DBOSError) -> (result: StoredResult, duplicate: Bool) {
        let call = try storeCall(result)
        return try Self.storeOutcome(try await run(ResultScripts.store, keys: call.keys, arguments: call.arguments), result.requestID)
    }

    /// Many ``storeResult(_:)`` calls in one Redis round trip; each outcome at its result's
    /// position (an item that failed before, e.g. in decoding, keeps its error).
    public func storeResults(
        _ results: [Result<StoredResult, DBOSError>]
    ) async -> [Result<(result: StoredResult, duplicate: Bool), DBOSError>] {
        await runBatch(ResultScripts.store, results.map { $0.flatMap { result in Result { () throws(DBOSError) in try storeCall(result) } } }) {
            (reply, index) throws(DBOSError) in
            guard case .success(let result) = results[index] else { throw DBOSError(.internalError, "no result at \(index)") }
            return try Self.storeOutcome(reply, result.requestID)
        }
    }

    func storeCall(_ result: StoredResult) throws(DBOSError) -> RedisScriptCall {
        try Self.validateID(result.requestID, "request id")
        try Self.validateID(result.agentID, "agent id")
        try Self.validateID(result.module, "module")
        guard result.status.isTerminal else {
            throw DBOSError(.invalidArgument, "a result belongs to a terminal state (completed, error, failed), not \(result.status.rawValue)")
        }
        guard result.payload.count <= configuration.maxPayloadBytes else {
            throw DBOSError(.invalidArgument, "payload of \(result.payload.count) bytes is over the limit of \(configuration.maxPayloadBytes)")
        }
        let fields: [(String, RedisArgument)] = [
            ("request_id", RedisArgument(result.requestID)), ("agent_id", RedisArgument(result.agentID)),
            ("module", RedisArgument(result.module)), ("status", RedisArgument(result.status.rawValue)),
            ("payload", RedisArgument(result.payload)), ("started_ms", RedisArgument(result.startedAtMilliseconds)),
            ("finished_ms", RedisArgument(result.finishedAtMilliseconds)),
            ("agent_start_ms", RedisArgument(result.metadata.agentStartTimeMilliseconds)),
            ("agent_runtime_version", RedisArgument(result.metadata.agentRuntimeVersion)),
            ("module_revision", RedisArgument(result.metadata.moduleRevision)),
            ("ingest_source", RedisArgument(result.metadata.ingestSource)),
        ]
        return RedisScriptCall(
            keys: [
                keys.result(result.requestID), keys.resultMarker(result.requestID), keys.agentResults(result.agentID), keys.events,
                keys.state(result.requestID),
            ],
            arguments: [
                RedisArgument(result.requestID), RedisArgument(configuration.idempotencyWindowSeconds), RedisArgument(configuration.maxEvents),
                RedisArgument(configuration.serverID), RedisArgument(configuration.retentionSeconds * 1000),
            ] + fields.flatMap { [RedisArgument($0.0), $0.1] })
    }

    static func storeOutcome(_ reply: RedisReply, _ requestID: String) throws(DBOSError) -> (result: StoredResult, duplicate: Bool) {
        guard let parts = reply.array, parts.count == 2, let outcome = parts[0].text else {
            throw DBOSError(.internalError, "unexpected reply from the result script")
        }
        switch outcome {
        case "stored", "duplicate":
            guard let stored = Self.storedResult(from: parts[1].hash) else { throw DBOSError(.internalError, "result script returned no record") }
            return (stored, outcome == "duplicate")
        case "deleted":
            throw DBOSError(.alreadyExists, "result \(requestID) was stored and then deleted; it is not stored again")
        default:
            throw DBOSError(.internalError, "unexpected outcome \(outcome) from the result script")
        }
    }

    public func getResult(requestID: String) async throws(DBOSError) -> StoredResult {
        try Self.validateID(requestID, "request id")
        guard let result = Self.storedResult(from: try await send(RedisCommand("HGETALL", keys.result(requestID))).hash) else {
            throw DBOSError(.notFound, "no result for request \(requestID)")
        }
        return result
    }

    /// An agent's results by receive time (oldest first) within `range`, optionally of one module.
    public func listResults(
        agentID: String, module: String? = nil, range: TimeRange = TimeRange(), limit: Int = 0, cursor: String? = nil
    ) async throws(DBOSError) -> Page<StoredResult> {
        try Self.validateID(agentID, "agent id")
        let limit = try pageSize(limit)
        if let since = range.since, let until = range.until, since > until {
            throw DBOSError(.invalidArgument, "the time range ends before it starts")
        }
        return try await page(index: keys.agentResults(agentID), range: range, cursor: cursor, limit: limit) { ids throws(DBOSError) in
            try await pipeline(ids.map { RedisCommand("HGETALL", keys.result($0)) }).map { reply in
                guard let result = Self.storedResult(from: reply.hash) else { return nil }
                if let module, result.module != module { return nil }
                return result
            }
        }
    }

    /// Deletes a result; returns false when there was none.
    @discardableResult
    public func deleteResult(requestID: String, actor: String) async throws(DBOSError) -> Bool {
        try Self.validateID(requestID, "request id")
        let agentID = try await send(RedisCommand("HGET", keys.result(requestID), "agent_id")).text ?? ""
        guard !agentID.isEmpty else { return false }
        let reply = try await run(
            ResultScripts.delete, keys: [keys.result(requestID), keys.agentResults(agentID), keys.events],
            arguments: [RedisArgument(requestID), RedisArgument(actor), RedisArgument(configuration.maxEvents)])
        return reply.integer == 1
    }

    static func storedResult(from fields: [String: [UInt8]]) -> StoredResult? {
        guard !fields.isEmpty, let status = ModuleStateName(rawValue: fields.text("status")) else { return nil }
        var result = StoredResult(
            requestID: fields.text("request_id"), agentID: fields.text("agent_id"), module: fields.text("module"), status: status,
            payload: fields["payload"] ?? [])
        result.startedAtMilliseconds = fields.int("started_ms")
        result.finishedAtMilliseconds = fields.int("finished_ms")
        result.metadata.receivedAtMilliseconds = fields.int("received_ms")
        result.metadata.agentStartTimeMilliseconds = fields.int("agent_start_ms")
        result.metadata.agentRuntimeVersion = fields.text("agent_runtime_version")
        result.metadata.moduleRevision = fields.text("module_revision")
        result.metadata.dbosServerID = fields.text("dbos_server_id")
        result.metadata.ingestSource = fields.text("ingest_source")
        return result
    }
}
