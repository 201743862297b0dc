import Foundation
import RedisClient

extension DBOSStore {
    public static let maxRunsPerMeasurement = 10_000

    /// What ``createMeasurement(_:deadline:actor:)`` answers.
    public typealias Created = (measurement: MeasurementRecord, created: Bool, states: [ModuleState])

    /// A measurement to create: its record, its deadline and who asks.
    public struct NewMeasurement: Sendable {
        public var record: MeasurementRecord
        public var deadline: DeadlineTask?
        public var actor: String

        public init(record: MeasurementRecord, deadline: DeadlineTask?, actor: String) {
            self.record = record
            self.deadline = deadline
            self.actor = actor
        }
    }

    /// Creates a measurement, every run's state (`created`) and its deadline task in one script.
    /// The same id again creates nothing: it answers the first record and its runs' states.
    public func createMeasurement(_ measurement: MeasurementRecord, deadline: DeadlineTask?, actor: String) async throws(DBOSError) -> Created {
        let call = try createCall(NewMeasurement(record: measurement, deadline: deadline, actor: actor))
        let reply = try await run(MeasurementScripts.create, keys: call.keys, arguments: call.arguments)
        return try Self.createOutcome(reply)
    }

    /// Many ``createMeasurement(_:deadline:actor:)`` calls in one Redis pipeline; each answered as
    /// its own call would have been.
    public func createMeasurements(_ measurements: [Result<NewMeasurement, DBOSError>]) async -> [Result<Created, DBOSError>] {
        await runBatch(MeasurementScripts.create, measurements.map { $0.flatMap { new in Result { () throws(DBOSError) in try createCall(new) } } }) {
            (reply, _) throws(DBOSError) in try Self.createOutcome(reply)
        }
    }

    func createCall(_ new: NewMeasurement) throws(DBOSError) -> RedisScriptCall {
        let (measurement, deadline) = (new.record, new.deadline)
        try Self.validateID(measurement.id, "measurement id")
        try Self.validateID(measurement.module, "module")
        // None is possible: a re-run whose agents are all offline is still a measurement.
        guard measurement.runs.count <= Self.maxRunsPerMeasurement else {
            throw DBOSError(.invalidArgument, "a measurement has at most \(Self.maxRunsPerMeasurement) runs (got \(measurement.runs.count))")
        }
        guard measurement.spec.count <= configuration.maxPayloadBytes else {
            throw DBOSError(
                .invalidArgument, "measurement spec of \(measurement.spec.count) bytes is over the limit of \(configuration.maxPayloadBytes)")
        }
        var seen = Set<String>()
        for run in measurement.runs {
            try Self.validateID(run.requestID, "request id")
            try Self.validateID(run.agentID, "agent id")
            guard seen.insert(run.requestID).inserted else { throw DBOSError(.invalidArgument, "request id \(run.requestID) appears twice") }
        }
        if let deadline {
            try Self.validateID(deadline.id, "deadline task id")
            guard (1...1000).contains(deadline.maxDeliveries) else { throw DBOSError(.invalidArgument, "max deliveries must be 1–1000") }
        }
        let runs = (try? JSONEncoder().encode(measurement.runs.map { [$0.requestID, $0.agentID] })) ?? Data("[]".utf8)
        return RedisScriptCall(
            keys: [keys.measurement(measurement.id), keys.measurements, keys.states, keys.events, keys.pendingTasks, keys.allTasks],
            arguments: [
                RedisArgument(measurement.id), RedisArgument(measurement.module), RedisArgument(measurement.spec), RedisArgument(Array(runs)),
                RedisArgument(new.actor), RedisArgument(configuration.maxEvents), RedisArgument(configuration.keyPrefix),
                RedisArgument(deadline?.id ?? ""), RedisArgument(deadline?.dueAtMilliseconds ?? 0), RedisArgument(deadline?.payload ?? []),
                RedisArgument(deadline?.maxDeliveries ?? 20),
            ])
    }

    static func createOutcome(_ reply: RedisReply) throws(DBOSError) -> Created {
        guard let parts = reply.array, parts.count == 3, let created = parts[0].integer,
            let stored = Self.measurement(from: parts[1].hash)
        else { throw DBOSError(.internalError, "unexpected reply from the measurement script: \(reply)") }
        let states = (parts[2].array ?? []).compactMap { Self.moduleState(from: $0.hash) }
        return (stored, created == 1, states)
    }

    /// The measurement, its runs' current states (in run order; a missing one is left out) and,
    /// with `withResults`, their stored results.
    public func getMeasurement(id: String, withResults: Bool) async throws(DBOSError)
        -> (measurement: MeasurementRecord, states: [ModuleState], results: [StoredResult])
    {
        try Self.validateID(id, "measurement id")
        guard let measurement = Self.measurement(from: try await send(RedisCommand("HGETALL", keys.measurement(id))).hash) else {
            throw DBOSError(.notFound, "no measurement \(id)")
        }
        var commands = measurement.runs.map { RedisCommand("HGETALL", keys.state($0.requestID)) }
        if withResults { commands += measurement.runs.map { RedisCommand("HGETALL", keys.result($0.requestID)) } }
        let replies = try await pipeline(commands)
        let count = measurement.runs.count
        let states = replies.prefix(count).compactMap { Self.moduleState(from: $0.hash) }
        let results = withResults ? replies.dropFirst(count).compactMap { Self.storedResult(from: $0.hash) } : []
        return (measurement, states, results)
    }

    /// Measurements by creation time, oldest first.
    public func listMeasurements(limit: Int = 0, cursor: String? = nil) async throws(DBOSError) -> Page<MeasurementRecord> {
        let limit = try pageSize(limit)
        return try await page(index: keys.measurements, range: TimeRange(), cursor: cursor, limit: limit) { ids throws(DBOSError) in
            try await pipeline(ids.map { RedisCommand("HGETALL", keys.measurement($0)) }).map { Self.measurement(from: $0.hash) }
        }
    }

    static func measurement(from fields: [String: [UInt8]]) -> MeasurementRecord? {
        guard !fields.isEmpty, let runs = try? JSONSerialization.jsonObject(with: Data(fields["runs"] ?? [])) as? [[String]] else { return nil }
        var record = MeasurementRecord(
            id: fields.text("id"), module: fields.text("module"), spec: fields["spec"] ?? [],
            runs: runs.compactMap { $0.count == 2 ? MeasurementRun(requestID: $0[0], agentID: $0[1]) : nil })
        record.createdAtMilliseconds = fields.int("created_ms")
        record.actor = fields.text("actor")
        return record
    }
}
