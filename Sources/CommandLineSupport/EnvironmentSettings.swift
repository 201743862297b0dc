import ArgumentParser
import FoundationEssentials

/// Settings from the environment: IMN's own name first, else the name the earlier (Python and Go)
/// prototype used, so that its compose files and shell profiles still work. A command-line flag
/// beats both; README "Configuration" lists the aliases.
public struct EnvironmentSettings: Sendable {
    public let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    func value(_ name: String) -> String? {
        environment[name].flatMap { $0.trimmed.isEmpty ? nil : $0.trimmed }
    }

    /// NATS URLs, comma-separated. The prototype's `NATS_URL` may be a Python list,
    /// `["nats://a:4222", "nats://b:4222"]`, as its compose file wrote it.
    public var natsURL: String? {
        if let own = value("IMN_NATS_URL") { return own }
        guard let text = value("NATS_URL") else { return nil }
        let urls = text.split(whereSeparator: { "[],'\" ".contains($0) }).map(String.init)
        return urls.isEmpty ? nil : urls.joined(separator: ",")
    }

    /// A redis:// URL; from the prototype's `REDIS_ADDR` (host or host:port) and `REDIS_PORT`.
    public var redisURL: String? {
        if let own = value("IMN_REDIS_URL") { return own }
        let port = value("REDIS_PORT")
        guard var address = value("REDIS_ADDR") ?? port.map({ _ in "127.0.0.1" }) else { return nil }
        if address.hasPrefix("redis://") || address.hasPrefix("rediss://") { return address }
        if let port {  // replaces a port in REDIS_ADDR
            if address.filter({ $0 == ":" }).count == 1, let colon = address.firstIndex(of: ":") { address = String(address[..<colon]) }
            address += ":\(port)"
        }
        return "redis://\(address)"
    }

    /// DBOS's gRPC address, host:port.
    public var dbosAddress: String? { value("IMN_DBOS_ADDRESS") ?? value("DBOS_ADDRESS") }

    /// An agent's name.
    public var agentName: String? { value("IMN_AGENT_NAME") ?? value("AGENT_NAME") }

    /// The port a process listens on (the server's HTTP port, DBOS's gRPC port). Not a number: an error.
    public func port() throws -> Int? {
        guard let text = value("IMN_PORT") ?? value("PORT") else { return nil }
        guard let port = Int(text), (0...65535).contains(port) else {
            throw EnvironmentSettingError("\(environment["IMN_PORT"] != nil ? "IMN_PORT" : "PORT")=\(text) is not a port (0–65535)")
        }
        return port
    }

    /// The port a command listens on: its `--port` flag, else the environment's, else `value`;
    /// a bad environment value is a usage error naming the variable.
    public func port(_ flag: Int?, default value: Int) throws(ValidationError) -> Int {
        if let flag { return flag }
        do { return try port() ?? value } catch { throw ValidationError("\(error)") }
    }
}

/// A setting in the environment that cannot be used; its message names the variable.
public struct EnvironmentSettingError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
