/// A Lua script run with `EVALSHA`; the client loads it with `SCRIPT LOAD` when Redis answers
/// `NOSCRIPT` (after a restart or `SCRIPT FLUSH`) and runs it again.
public struct RedisScript: Sendable, Hashable {
    public let source: String
    /// The SHA-1 of the source, as Redis names scripts.
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = SHA1.hexDigest(Array(source.utf8))
    }
}

/// The keys and arguments of one run of a script, for ``RedisClient/evaluate(_:calls:)``.
public struct RedisScriptCall: Sendable {
    public var keys: [RedisArgument]
    public var arguments: [RedisArgument]

    public init(keys: [RedisArgument], arguments: [RedisArgument]) {
        self.keys = keys
        self.arguments = arguments
    }
}
