import Agent
import ArgumentParser
import Foundation
import IMNCore
import IMNTestSupport
import NATSClient

struct AgentBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract:
            "Ping precision and throughput next to fping; traceroute, DNS and HTTP next to traceroute, dnsperf and curl; the agent's footprint "
            + "(RSS, start-up to first heartbeat).")

    @Option(help: "Probe pairs for the precision comparison.") var pairs = 200
    @Option(help: "Path of the imn executable (env IMN_BINARY).") var imn: String?
    @Option(help: "Rounds of the probe comparisons (traceroute runs; DNS queries and HTTP requests are 20x and 10x this).") var probeRounds = 20

    func run() async throws {
        try await precision(to: "127.0.0.1", what: "127.0.0.1")
        if NetworkNamespace.available {
            try await NetworkNamespace.with { namespace in
                try await precision(to: namespace.peerAddress, what: "\(namespace.peerAddress), through a veth pair into a network namespace")
            }
        } else {
            print("ping precision over veth: skipped (needs root and `ip netns`)")
        }
        try await throughput()
        try await ProbeBench.run(rounds: probeRounds)
        try await footprint()
    }

    /// Alternates one imn probe and one fping probe to `target` and compares the RTTs.
    func precision(to target: String, what: String) async throws {
        var differences: [Double] = []
        var ours: [Double] = []
        var theirs: [Double] = []
        for _ in 0..<pairs {
            guard let mine = try await PingModule.probeOnce(target), let fping = Self.fpingOnce(target) else { continue }
            ours.append(mine)
            theirs.append(fping)
            differences.append(abs(mine - fping) * 1000)
        }
        differences.sort()
        guard !differences.isEmpty else {
            print("ping precision: fping not available")
            return
        }
        let median = differences[differences.count / 2]
        let p99 = differences[min(differences.count - 1, differences.count * 99 / 100)]
        print(
            String(
                format: "ping precision to \(what) (%d pairs): median |imn - fping| %.1f µs, p99 %.1f µs (goal: median < 20 µs)",
                differences.count, median, p99))
        print(
            String(format: "  median RTT imn %.1f µs, fping %.1f µs", ours.sorted()[ours.count / 2] * 1000, theirs.sorted()[theirs.count / 2] * 1000))
    }

    /// 100 loopback targets (127.0.0.1–127.0.0.100), 10 probes each, 10 ms apart.
    func throughput() async throws {
        let targets = (1...100).map { "127.0.0.\($0)" }
        let clock = ContinuousClock()
        let start = clock.now
        let received = try await withThrowingTaskGroup(of: Int.self) { group in
            for target in targets {
                group.addTask { try await PingModule.probeRun(target, count: 10, interval: 0.01) }
            }
            return try await group.reduce(0, +)
        }
        let seconds = (clock.now - start).seconds
        let ours = Double(received) / seconds
        let fpingStart = clock.now
        let fping = Process()
        fping.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        fping.arguments = ["fping", "-q", "-c", "10", "-p", "10", "-i", "1"] + targets
        fping.standardOutput = FileHandle.nullDevice
        fping.standardError = FileHandle.nullDevice
        try fping.run()
        fping.waitUntilExit()
        let theirs = 1000 / (clock.now - fpingStart).seconds
        print(
            String(
                format: "ping throughput, 100 loopback targets x 10 probes: imn %.0f probes/s, fping %.0f probes/s (%.2fx; goal >= 0.8x)", ours,
                theirs, ours / theirs))
    }

    /// The agent as its own process — `imn-agent` as the Dockerfile builds it (IMN_AGENT_BINARY),
    /// else `imn agent` — time to its first heartbeat, RSS idle and after 500 echo runs.
    func footprint() async throws {
        let environment = ProcessInfo.processInfo.environment
        let (executable, command): (String, [String])
        if let agent = environment["IMN_AGENT_BINARY"], imn == nil, FileManager.default.isExecutableFile(atPath: agent) {
            (executable, command) = (agent, [])
        } else if let imn = imn ?? environment["IMN_BINARY"] {
            (executable, command) = (imn, ["agent"])
        } else {
            print("footprint: give --imn, IMN_BINARY or IMN_AGENT_BINARY")
            return
        }
        print("footprint of \(([executable] + command).joined(separator: " "))")
        try await withNATSServer { server in
            let connection = try await NATSConnection.connect(NATSConfiguration(url: server.natsURL))
            let heartbeats = try connection.subscribe(to: "imn.hb.bench_agent")
            try await connection.flush()
            let state = FileManager.default.temporaryDirectory.appendingPathComponent("imn-bench-agent-\(UUID().uuidString)")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments =
                command + [
                    "--name", "bench_agent", "--id", "bench_agent", "--nats-url", server.natsURL, "--metrics-port", "\(FreePort.next())",
                    "--state-dir", state.path, "--log-level", "warning", "--allow-targets", "127.0.0.0/8,::1/128",
                ]
            let clock = ContinuousClock()
            let start = clock.now
            try process.run()
            defer {
                process.terminate()
                try? FileManager.default.removeItem(at: state)
            }
            for await _ in heartbeats { break }
            let startup = clock.now - start
            try await Task.sleep(for: .seconds(3))
            let idle = Self.rss(process.processIdentifier)
            let payload = Array(try JSONEncoder().encode(CommandRequest(requestID: "x", input: ["message": "hi"])))
            for index in 0..<500 {
                let request = Array(try JSONEncoder().encode(CommandRequest(requestID: "bench-\(index)", input: ["message": "hi"])))
                _ = try await connection.request("imn.cmd.bench_agent.echo_module", payload: index == 0 ? payload : request)
            }
            try await Task.sleep(for: .seconds(1))
            let loaded = Self.rss(process.processIdentifier)
            print(String(format: "agent start-up to first heartbeat: %.0f ms (goal < 300 ms)", startup.seconds * 1000))
            print(String(format: "agent RSS idle: %.1f MB (goal < 30 MB); after 500 echo runs: %.1f MB", idle, loaded))
            await connection.close()
        }
    }

    static func rss(_ pid: Int32) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes / 1024
    }

    /// One fping probe; RTT in ms.
    static func fpingOnce(_ host: String) -> Double? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["fping", "-C", "1", "-q", host]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // "127.0.0.1 : 0.04"
        return text.split(separator: ":").last.flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
