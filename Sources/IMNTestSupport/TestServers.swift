import Foundation

/// A real `redis-server` on a free loopback port, AOF on, in a temporary folder.
/// `appendfsync` defaults to `always`, so every acknowledged write survives `kill -9`.
public func withRedisServer<T>(
    appendfsync: String = "always", extraArguments: [String] = [], _ body: (ServerProcess) async throws -> T
) async throws -> T {
    guard let executable = ServerBinaries.redisServer else { throw ServerProcessError("redis-server is not installed") }
    let port = FreePort.next()
    let directory = try ServerProcess.makeDirectory("redis")
    let arguments =
        [
            "--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory.path, "--daemonize", "no",
            "--appendonly", "yes", "--appendfsync", appendfsync, "--save", "", "--logfile", "",
        ] + extraArguments
    return try await withServer(
        ServerProcess(name: "redis-server", executable: executable, port: port, directory: directory, arguments: arguments), body)
}

/// A real `nats-server -js` on a free loopback port with its JetStream store in a temporary folder.
public func withNATSServer<T>(
    extraArguments: [String] = [], environment: [String: String] = [:], _ body: (ServerProcess) async throws -> T
) async throws -> T {
    try await withServer(try ServerProcess.natsServer(extraArguments: extraArguments, environment: environment), body)
}

extension ServerProcess {
    /// A `nats-server -js` on a free loopback port, not started yet (``withServer(_:_:)`` starts it).
    public static func natsServer(extraArguments: [String] = [], environment: [String: String] = [:]) throws -> ServerProcess {
        guard let executable = ServerBinaries.natsServer else { throw ServerProcessError("nats-server is not installed") }
        let port = FreePort.next()
        let directory = try ServerProcess.makeDirectory("nats")
        let arguments = ["-a", "127.0.0.1", "-p", "\(port)", "-js", "-sd", directory.appendingPathComponent("jetstream").path] + extraArguments
        return ServerProcess(
            name: "nats-server", executable: executable, port: port, directory: directory, arguments: arguments, environment: environment)
    }
}

extension ServerProcess {
    public var redisURL: String { "redis://127.0.0.1:\(port)" }
    public var natsURL: String { "nats://127.0.0.1:\(port)" }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(timeout: Duration = .seconds(10), poll: Duration = .milliseconds(20), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: poll)
    }
    return await condition()
}
