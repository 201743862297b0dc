import CHiredis
import Logging

/// A small pool of ``RedisConnection``s. Each command goes to the least busy connection;
/// a pipeline or script call runs whole on one connection.
///
/// Thread-safe and `Sendable`; call ``close()`` when done.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let connections: [RedisConnection]

    public init(configuration: RedisConfiguration, logger: Logger = Logger(label: "imn.redis")) {
        self.configuration = configuration
        self.connections = (0..<max(1, configuration.poolSize)).map { _ in
            RedisConnection(configuration: configuration, logger: logger)
        }
    }

    /// Runs one command. A server error reply is thrown as ``RedisError`` with code `.server`.
    @discardableResult
    public func send(_ command: RedisCommand) async throws(RedisError) -> RedisReply {
        try await connection().pipeline([command])[0].unwrapped()
    }

    @discardableResult
    public func send(_ arguments: RedisArgument...) async throws(RedisError) -> RedisReply {
        try await send(RedisCommand(arguments))
    }

    /// Sends N commands and reads N replies on one connection. Server errors stay in the array.
    public func pipeline(_ commands: [RedisCommand]) async throws(RedisError) -> [RedisReply] {
        try await connection().pipeline(commands)
    }

    /// Runs a script with `EVALSHA`; on `NOSCRIPT` it loads the script and runs it again.
    @discardableResult
    public func evaluate(_ script: RedisScript, keys: [RedisArgument] = [], arguments: [RedisArgument] = []) async throws(RedisError) -> RedisReply {
        let connection = connection()
        let call = RedisCommand(["EVALSHA", RedisArgument(script.sha1), RedisArgument(keys.count)] + keys + arguments)
        let reply = try await connection.pipeline([call])[0]
        if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
            let retried = try await connection.pipeline([RedisCommand("SCRIPT", "LOAD", RedisArgument(script.source)), call])
            return try retried[1].unwrapped()
        }
        return try reply.unwrapped()
    }

    /// Runs `script` once per call, all in one pipeline on one connection: one round trip for the
    /// lot. Replies come back in call order, a failed call as its `.error` reply (the others still
    /// run); a call answered NOSCRIPT is sent again after the script is loaded. Throws only when
    /// the connection fails.
    public func evaluate(_ script: RedisScript, calls: [RedisScriptCall]) async throws(RedisError) -> [RedisReply] {
        guard !calls.isEmpty else { return [] }
        let connection = connection()
        let commands = calls.map { RedisCommand(["EVALSHA", RedisArgument(script.sha1), RedisArgument($0.keys.count)] + $0.keys + $0.arguments) }
        var replies = try await connection.pipeline(commands)
        let missing = replies.indices.filter { if case .error(let message) = replies[$0] { message.hasPrefix("NOSCRIPT") } else { false } }
        if !missing.isEmpty {
            let retried = try await connection.pipeline([RedisCommand("SCRIPT", "LOAD", RedisArgument(script.source))] + missing.map { commands[$0] })
            for (index, reply) in zip(missing, retried.dropFirst()) { replies[index] = reply }
        }
        return replies
    }

    /// A connection of the pool for a sequence that must stay on one connection.
    /// Blocking commands (`BLMOVE`, `XREAD BLOCK`) belong on a dedicated ``RedisConnection`` instead.
    public func connection() -> RedisConnection {
        var best = connections[0]
        for candidate in connections.dropFirst() where candidate.load < best.load { best = candidate }
        return best
    }

    public func close() async {
        for connection in connections { await connection.close() }
    }
}

extension RedisClient {
    /// The hiredis version this build links.
    public static var libraryVersion: String { "hiredis \(HIREDIS_MAJOR).\(HIREDIS_MINOR).\(HIREDIS_PATCH)" }
}
