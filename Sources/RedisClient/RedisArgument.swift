/// One binary-safe argument of a Redis command.
public struct RedisArgument: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    public init<I: BinaryInteger>(_ value: I) { self.bytes = Array(String(value).utf8) }
    public init(_ value: Double) { self.bytes = Array(String(value).utf8) }
    public init(stringLiteral value: String) { self.init(value) }
    public init(integerLiteral value: Int) { self.init(value) }
}

/// A command: its name and arguments, sent with `redisCommandArgv` (never the variadic form).
public struct RedisCommand: Sendable, Hashable {
    public var arguments: [RedisArgument]

    public init(_ arguments: [RedisArgument]) { self.arguments = arguments }
    public init(_ arguments: RedisArgument...) { self.arguments = arguments }

    /// The command's name (its first argument), upper-cased, for logs and spans.
    public var name: String { arguments.first.map { String(decoding: $0.bytes, as: UTF8.self).uppercased() } ?? "" }
}
