import Foundation

/// How to reach Redis and how hard to try. Defaults suit a Redis on the same machine.
public struct RedisConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 6379
    /// ACL user name; `nil` authenticates as the default user when a password is set.
    public var user: String?
    public var password: String?
    public var database: Int = 0
    /// Number of connections in the pool; each has its own thread.
    public var poolSize: Int = 4
    /// Time allowed for one TCP connect.
    public var connectTimeout: Duration = .seconds(2)
    /// Read/write timeout of every command (SO_RCVTIMEO/SO_SNDTIMEO on the socket).
    public var commandTimeout: Duration = .seconds(5)
    /// How long a command waits for a (re)connection before failing with `connectionFailed`.
    public var connectWait: Duration = .seconds(5)
    /// Reconnect backoff: first delay, doubled per failed attempt, capped.
    public var reconnectInitialDelay: Duration = .milliseconds(50)
    public var reconnectMaxDelay: Duration = .seconds(2)

    public init() {}

    /// Parses `redis://[user:password@]host:port/db` (also `redis://:password@host`).
    public init(url: String) throws(RedisError) {
        self.init()
        guard let components = URLComponents(string: url), components.scheme == "redis" else {
            throw RedisError(.invalidConfiguration, "not a redis:// URL: \(Self.redacted(url))")
        }
        if let host = components.host, !host.isEmpty {
            self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        }
        if let port = components.port {
            guard (1...65535).contains(port) else {
                throw RedisError(.invalidConfiguration, "port out of range in \(Self.redacted(url))")
            }
            self.port = port
        }
        if let user = components.user, !user.isEmpty { self.user = user.removingPercentEncoding ?? user }
        if let password = components.password, !password.isEmpty {
            self.password = password.removingPercentEncoding ?? password
        }
        let path = components.path.drop(while: { $0 == "/" })
        if !path.isEmpty {
            guard let db = Int(path), db >= 0 else {
                throw RedisError(.invalidConfiguration, "database must be a number in \(Self.redacted(url))")
            }
            self.database = db
        }
    }

    /// The URL with any password replaced, for logs and errors.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "redis://***"
    }

    /// `host:port/db`, safe to log.
    public var endpointDescription: String { "\(host):\(port)/\(database)" }
}
