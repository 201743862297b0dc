import Foundation

/// Finds the real server binaries tests start. `IMN_REDIS_SERVER` / `IMN_NATS_SERVER` name them
/// explicitly; otherwise PATH is searched.
public enum ServerBinaries {
    public static let redisServer: String? = find("redis-server", override: "IMN_REDIS_SERVER")
    public static let natsServer: String? = find("nats-server", override: "IMN_NATS_SERVER")
    /// Debian installs it in /usr/sbin.
    public static let clickHouseServer: String? = find("clickhouse-server", override: "IMN_CLICKHOUSE_SERVER")
    public static let redisBenchmark: String? = find("redis-benchmark", override: "IMN_REDIS_BENCHMARK")

    /// The `imn` executable built with the tests (next to the test bundle), or `IMN_BINARY`.
    public static let imn: String? = {
        if let path = ProcessInfo.processInfo.environment["IMN_BINARY"], FileManager.default.isExecutableFile(atPath: path) { return path }
        guard let test = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let candidate = URL(fileURLWithPath: test).deletingLastPathComponent().appendingPathComponent("imn").path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }()
    /// The built `imn-agent`, next to `imn`.
    public static var imnAgent: String? {
        guard let imn else { return nil }
        let candidate = URL(fileURLWithPath: imn).deletingLastPathComponent().appendingPathComponent("imn-agent").path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }
    /// `openapi-spec-validator` (PyPI), the independent OpenAPI checker.
    public static let openAPIValidator: String? = find("openapi-spec-validator", override: "IMN_OPENAPI_VALIDATOR")

    public static var redisAvailable: Bool { redisServer != nil }
    public static var natsAvailable: Bool { natsServer != nil }
    public static var clickHouseAvailable: Bool { clickHouseServer != nil }

    public static func find(_ name: String, override: String = "") -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment[override], FileManager.default.isExecutableFile(atPath: path) { return path }
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let home = environment["HOME"] ?? "/root"
        let directories =
            path.split(separator: ":").map(String.init) + ["/usr/local/bin", "/usr/bin", "/usr/sbin", "\(home)/.local/bin", "\(home)/.pyenv/shims"]
        for directory in directories {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
