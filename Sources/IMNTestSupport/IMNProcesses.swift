import Foundation

/// The repository this package lives in (for files tests read: otel/, scripts/).
public enum Repository {
    public static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func path(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}

/// `imn dbos`, `imn server` and `imn agent` as processes of the built `imn` binary (logs at
/// warning level, in `directory`), for tests and benchmarks that need the real executables.
public enum IMNProcesses {
    /// The built binary (or `IMN_BINARY`); the benchmarks pass their release build.
    public static var binary: String { ServerBinaries.imn ?? "imn" }

    public static func dbos(
        port: Int, redisURL: String, directory: URL, environment: [String: String] = [:], imn: String = binary
    ) -> ServerProcess {
        ServerProcess(
            name: "dbos", executable: imn, port: port, directory: directory,
            arguments: ["dbos", "--port", "\(port)", "--redis-url", redisURL, "--log-level", "warning"], environment: environment)
    }

    public static func server(
        name: String = "server", port: Int, natsURL: String, dbosAddress: String, directory: URL, environment: [String: String] = [:],
        imn: String = binary
    ) -> ServerProcess {
        ServerProcess(
            name: name, executable: imn, port: port, directory: directory,
            arguments: [
                "server", "--port", "\(port)", "--nats-url", natsURL, "--dbos-address", dbosAddress, "--server-id", name, "--log-level", "warning",
            ], environment: environment)
    }

    /// An agent named and identified `agent_1`, its state in `directory`/agent.
    public static func agent(
        metricsPort: Int, natsURL: String, directory: URL, heartbeatInterval: Double, environment: [String: String] = [:], imn: String = binary
    ) -> ServerProcess {
        ServerProcess(
            name: "agent", executable: imn, port: metricsPort, directory: directory,
            arguments: [
                "agent", "--name", "agent_1", "--id", "agent_1", "--nats-url", natsURL, "--metrics-port", "\(metricsPort)", "--state-dir",
                directory.appendingPathComponent("agent").path, "--heartbeat-interval", "\(heartbeatInterval)", "--log-level", "warning",
                "--allow-targets", "127.0.0.0/8,::1/128",
            ], environment: environment)
    }
}
