import ArgumentParser
import Foundation
import HummingbirdWSClient
import IMNCore
import IMNTestSupport
import Logging
import Synchronization

/// The live view at scale: `imn loadgen` agents heartbeating through real NATS into an `imn
/// server` (with `imn dbos` and Redis), while WebSocket clients follow `/live`.
struct LiveBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live",
        abstract: "Heartbeat ingest lag, live fan-out latency, server CPU and memory with N simulated agents and 500 WebSocket clients.")

    @Option(help: "Simulated agents of each step, comma-separated.") var agents = "2000,5000,10000,20000"
    @Option(help: "WebSocket clients following /live.") var clients = 500
    @Option(help: "Seconds measured per step (after 5 s of warm-up).") var seconds = 10
    @Option(help: "Path of the imn executable (env IMN_BINARY).") var imn: String?

    func run() async throws {
        guard let imn = imn ?? ProcessInfo.processInfo.environment["IMN_BINARY"] else {
            throw ValidationError("give --imn or IMN_BINARY (Benchmarks/run does)")
        }
        let steps = agents.split(separator: ",").compactMap { Int($0) }
        try await withServerStack(appendfsync: "everysec", imn: imn, name: "live") { stack in
            let (server, httpPort, dbosPort, nats, redis) = (stack.server, stack.httpPort, stack.dbosPort, stack.nats, stack.redis)
            guard let serverPID = server.pid else { throw ValidationError("the server has no process id") }
            print("imn server :\(httpPort) (release, pid \(serverPID)), imn dbos :\(dbosPort), nats :\(nats.port), redis :\(redis.port)")
            let received = FanOut()
            let followers = (0..<clients).map { _ in received.follow("ws://127.0.0.1:\(httpPort)/live") }
            defer { for follower in followers { follower.cancel() } }
            while await metric(httpPort, "imn_server_live_clients") < Double(clients) { try await Task.sleep(for: .milliseconds(200)) }
            print("\(clients) WebSocket clients follow /live (unfiltered)")
            print("agents  heartbeats/s  lag p99 (≤ bucket)  fan-out p50 / p99  server CPU  server RSS  alive")
            for (step, count) in steps.enumerated() {
                try await measure(
                    step: step, agents: count, imn: imn, natsURL: nats.natsURL, httpPort: httpPort, pid: serverPID, received: received)
            }
            let warnings = server.tail(lines: 200).split(separator: "\n").filter { $0.contains("warning") || $0.contains("error") }
            if !warnings.isEmpty { print("server warnings:\n" + warnings.suffix(10).joined(separator: "\n")) }
            let slow = nats.tail(lines: 400).split(separator: "\n").filter { $0.contains("Slow Consumer") }
            if !slow.isEmpty { print("nats-server: \(slow.count) slow-consumer lines, the last: \(slow.last ?? "")") }
        }
    }

    func measure(step: Int, agents: Int, imn: String, natsURL: String, httpPort: Int, pid: Int32, received: FanOut) async throws {
        let loadgen = Process()
        loadgen.executableURL = URL(fileURLWithPath: imn)
        loadgen.arguments = [
            "loadgen", "--agents", "\(agents)", "--rate", "1", "--nats-url", natsURL, "--duration", "\(seconds + 6)", "--report", "1000",
            "--prefix", "step\(step)",
        ]
        loadgen.standardOutput = FileHandle.nullDevice
        try loadgen.run()
        defer { loadgen.terminate() }
        try await Task.sleep(for: .seconds(5))
        let lagBefore = await histogram(httpPort, "imn_server_heartbeat_lag_seconds")
        let cpuBefore = Self.cpuSeconds(pid)
        let start = ContinuousClock.now
        received.reset()
        try await Task.sleep(for: .seconds(seconds))
        let elapsed = (ContinuousClock.now - start) / .seconds(1)
        let cpu = (Self.cpuSeconds(pid) - cpuBefore) / elapsed
        let lagAfter = await histogram(httpPort, "imn_server_heartbeat_lag_seconds")
        let heard = (lagAfter.last?.count ?? 0) - (lagBefore.last?.count ?? 0)
        let p99 = Self.quantile(0.99, before: lagBefore, after: lagAfter)
        guard !lagBefore.isEmpty, !lagAfter.isEmpty else {
            print(String(format: "%6d  the server did not answer /metrics within 30 s: overloaded (CPU %.0f%%)", agents, cpu * 100))
            loadgen.waitUntilExit()
            return
        }
        let latencies = received.latencies()
        let (p50, p99Fan) = percentiles(latencies)
        let fanOut = latencies.isEmpty ? "none" : "\(Int(p50 / 1000)) / \(Int(p99Fan / 1000)) ms"
        let status = (try? await LoopbackHTTP.request("GET", port: httpPort, path: "/status"))?.body ?? ""
        let alive = JSONValue(parsing: Array(status.utf8))?["agents_alive"]?.numberValue ?? 0
        print(
            String(
                format: "%6d  %12.0f  %18@  %17@  %9.0f%%  %7.1f MB  %5.0f", agents, Double(heard) / elapsed, p99.map { "\($0) s" } ?? "?",
                fanOut, cpu * 100, AgentBench.rss(pid), alive))
        loadgen.waitUntilExit()
    }

    /// `(upper bound, cumulative count)` of a Prometheus histogram, +Inf last.
    func histogram(_ port: Int, _ name: String) async -> [(bound: Double, count: Double)] {
        guard let text = (try? await LoopbackHTTP.request("GET", port: port, path: "/metrics"))?.body else { return [] }
        return text.split(separator: "\n").compactMap { line -> (Double, Double)? in
            guard line.hasPrefix(name + "_bucket{le=\""), let close = line.firstIndex(of: "}") else { return nil }
            let bound = line[line.index(line.startIndex, offsetBy: name.count + 12)..<line.index(before: close)]
            guard let count = Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)) else { return nil }
            return (bound == "+Inf" ? .infinity : Double(bound) ?? .infinity, count)
        }.sorted { $0.0 < $1.0 }
    }

    func metric(_ port: Int, _ name: String) async -> Double {
        let text = (try? await LoopbackHTTP.request("GET", port: port, path: "/metrics"))?.body ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    /// The smallest bucket bound holding `q` of the observations made between the two scrapes.
    static func quantile(_ q: Double, before: [(bound: Double, count: Double)], after: [(bound: Double, count: Double)]) -> Double? {
        let deltas = after.map { bucket in (bucket.bound, bucket.count - (before.first { $0.bound == bucket.bound }?.count ?? 0)) }
        guard let total = deltas.last?.1, total > 0 else { return nil }
        return deltas.first { $0.1 >= q * total }?.0
    }

    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3; utime and stime are fields 14 and 15.
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / ticks
    }
}

/// What the WebSocket clients received: for each heartbeats event, how long after the server
/// made it (`at_ms`) a client had it.
final class FanOut: Sendable {
    private let samples = Mutex<[Duration]>([])

    func reset() { samples.withLock { $0 = [] } }
    func latencies() -> [Duration] { samples.withLock { $0 } }

    func follow(_ url: String) -> Task<Void, any Error> {
        Task {
            try await WebSocketClient.connect(url: url, logger: Logger(label: "bench.live")) { inbound, _, _ in
                for try await message in inbound.messages(maxSize: 1 << 22) {
                    guard case .text(let text) = message else { continue }
                    let now = Date.nowMilliseconds
                    guard let event = JSONValue(parsing: Array(text.utf8)), event["kind"] == "heartbeats",
                        let at = event["at_ms"]?.numberValue
                    else { continue }
                    self.samples.withLock { $0.append(.milliseconds(now - Int64(at))) }
                }
            }
        }
    }
}
