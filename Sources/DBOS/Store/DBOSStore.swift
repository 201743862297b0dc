import Logging
import RedisClient
import Tracing

/// The durable state of IMN in Redis: agents, module states, results, scheduled tasks and the
/// audit log. Every change that touches more than one key is one Lua script, so it is applied
/// whole or not at all, and deadlines and timestamps come from the Redis clock.
public struct DBOSStore: Sendable {
    public let configuration: DBOSStoreConfiguration
    let redis: RedisClient
    let keys: DBOSKeys
    let logger: Logger

    public init(
        redis: RedisClient, configuration: DBOSStoreConfiguration = DBOSStoreConfiguration(), logger: Logger = Logger(label: "imn.dbos.store")
    ) {
        self.redis = redis
        self.configuration = configuration
        self.keys = DBOSKeys(prefix: configuration.keyPrefix)
        self.logger = logger
    }

    /// Runs a script, mapping Redis failures to DBOS errors.
    /// One span per Redis call (a child of the gRPC server span when there is one).
    func run(_ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument]) async throws(DBOSError) -> RedisReply {
        do {
            return try await Self.traced("EVALSHA") { try await redis.evaluate(script, keys: keys, arguments: arguments) }
        } catch {
            throw Self.map(any: error)
        }
    }

    /// Runs `script` for every call that was prepared without error, in one pipeline, and reads
    /// each reply with `outcome`; a call whose preparation failed keeps that error, and when the
    /// connection fails every call gets its error.
    func runBatch<T>(
        _ script: RedisScript, _ calls: [Result<RedisScriptCall, DBOSError>],
        outcome: (RedisReply, Int) throws(DBOSError) -> T
    ) async -> [Result<T, DBOSError>] {
        let ready = calls.indices.compactMap { index in (try? calls[index].get()).map { (index, $0) } }
        var outcomes: [Result<T, DBOSError>] = calls.map { call in
            switch call {
            case .failure(let error): .failure(error)
            case .success: .failure(DBOSError(.internalError, "not run"))
            }
        }
        do {
            let replies = try await Self.traced("EVALSHA") { try await redis.evaluate(script, calls: ready.map(\.1)) }
            for ((index, _), reply) in zip(ready, replies) {
                outcomes[index] = Result { () throws(DBOSError) in
                    let value: RedisReply
                    do { value = try reply.unwrapped() } catch { throw Self.map(any: error) }
                    return try outcome(value, index)
                }
            }
        } catch {
            for (index, _) in ready { outcomes[index] = .failure(Self.map(any: error)) }
        }
        return outcomes
    }

    func send(_ command: RedisCommand) async throws(DBOSError) -> RedisReply {
        do {
            return try await Self.traced(command.name) { try await redis.send(command) }
        } catch {
            throw Self.map(any: error)
        }
    }

    /// Records a Redis command as an event (its name and time) on the span of the DBOS call it
    /// serves, so that a call is one span however many commands it takes.
    static func traced<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        guard let span = DBOSCallSpan.current else { return try await body() }
        let start = ContinuousClock.now
        defer {
            var attributes = SpanAttributes()
            attributes["db.system.name"] = "redis"
            attributes["db.operation.name"] = operation
            attributes["db.duration_us"] = Int((ContinuousClock.now - start) / .microseconds(1))
            span.addEvent(SpanEvent(name: "redis \(operation)", attributes: attributes))
        }
        return try await body()
    }

    func pipeline(_ commands: [RedisCommand]) async throws(DBOSError) -> [RedisReply] {
        do {
            return try await redis.pipeline(commands)
        } catch {
            throw Self.map(error)
        }
    }

    static func map(any error: any Error) -> DBOSError {
        if let error = error as? RedisError { return map(error) }
        return DBOSError(.unavailable, "Redis call did not finish", cause: error)
    }

    static func map(_ error: RedisError) -> DBOSError {
        switch error.code {
        case .connectionFailed, .closed: DBOSError(.unavailable, "Redis is unreachable", cause: error)
        // Nothing was applied, so this is as retryable as an unreachable Redis.
        case .server where error.isTransientRefusal: DBOSError(.unavailable, "Redis is not ready", cause: error)
        // Redis refuses a script at its first write when full, so nothing of it was applied.
        case .server where error.message.hasPrefix("OOM"):
            DBOSError(
                .resourceExhausted, "Redis is full (maxmemory reached); nothing was written: raise maxmemory or shorten --retention", cause: error)
        case .indeterminate: DBOSError(.unavailable, "the outcome is unknown: the connection to Redis broke", cause: error)
        default: DBOSError(.internalError, "Redis failed", cause: error)
        }
    }

    /// Is Redis answering? (For the health service.)
    public func ping() async -> Bool {
        (try? await redis.send("PING")) == .status("PONG")
    }

    // MARK: Validation shared by every call

    static func validateID(_ id: String, _ what: String) throws(DBOSError) {
        guard !id.isEmpty else { throw DBOSError(.invalidArgument, "\(what) must not be empty") }
        guard id.utf8.count <= 256 else { throw DBOSError(.invalidArgument, "\(what) is longer than 256 bytes") }
        guard id.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }) else {
            throw DBOSError(.invalidArgument, "\(what) must not contain spaces or control characters")
        }
    }

    func pageSize(_ requested: Int) throws(DBOSError) -> Int {
        guard requested >= 0 else { throw DBOSError(.invalidArgument, "page size must not be negative (got \(requested))") }
        return requested == 0 ? configuration.defaultPageSize : min(requested, configuration.maxPageSize)
    }
}

extension RedisReply {
    /// An `HGETALL` reply as a dictionary of field → bytes.
    var hash: [String: [UInt8]] {
        guard let elements = array else { return [:] }
        var result: [String: [UInt8]] = [:]
        var index = 0
        while index + 1 < elements.count {
            if let name = elements[index].text { result[name] = elements[index + 1].bytes ?? [] }
            index += 2
        }
        return result
    }
}

extension Dictionary where Key == String, Value == [UInt8] {
    func text(_ field: String) -> String { self[field].map { String(decoding: $0, as: UTF8.self) } ?? "" }
    func int(_ field: String) -> Int64 { Int64(text(field)) ?? 0 }
}
