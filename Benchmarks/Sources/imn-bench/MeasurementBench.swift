import ArgumentParser
import Foundation
import IMNCore
import IMNTestSupport
import Synchronization

/// One measurement on many agents: `imn loadgen --answer` agents (echo) behind release `imn
/// server` and `imn dbos` processes, with real redis-server (appendfsync always, as `imn up`) and
/// nats-server.
struct MeasurementBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "measurements",
        abstract:
            "One measurement on 1,000 simulated agents (time until every result is stored, DBOS calls) and the sustained rate of 10-run measurements."
    )

    @Option(help: "Simulated agents (and runs of the one big measurement).") var agents = 1000
    @Option(help: "Clients posting 10-run measurements in the sustained run.") var clients = 16
    @Option(help: "Seconds of the sustained run.") var seconds = 10
    @Option(help: "Redis appendfsync policy: always (what scripts/up uses) or everysec.") var appendfsync = "always"
    @Option(help: "Path of the imn executable (env IMN_BINARY).") var imn: String?

    func run() async throws {
        guard let imn = imn ?? ProcessInfo.processInfo.environment["IMN_BINARY"] else {
            throw ValidationError("give --imn or IMN_BINARY (Benchmarks/run does)")
        }
        try await withServerStack(appendfsync: appendfsync, imn: imn, name: "measurements") { stack in
            let loadgen = Process()
            loadgen.executableURL = URL(fileURLWithPath: imn)
            loadgen.arguments = [
                "loadgen", "--agents", "\(agents)", "--rate", "0.5", "--nats-url", stack.nats.natsURL, "--duration", "3600", "--report", "3600",
                "--answer", "--prefix", "mb",
            ]
            loadgen.standardOutput = FileHandle.nullDevice
            try loadgen.run()
            defer { loadgen.terminate() }
            print(
                "imn server :\(stack.httpPort), imn dbos :\(stack.dbosPort) (release), redis :\(stack.redis.port) (appendfsync \(appendfsync)), "
                    + "nats :\(stack.nats.port), imn loadgen --answer: \(agents) agents")
            let pids = [
                "server": stack.server.pid ?? 0, "dbos": stack.dbos.pid ?? 0, "redis": stack.redis.pid ?? 0, "nats": stack.nats.pid ?? 0,
                "loadgen": loadgen.processIdentifier,
            ]
            try await measure(httpPort: stack.httpPort, pids: pids)
        }
    }

    func measure(httpPort: Int, pids: [String: Int32]) async throws {
        let start = ContinuousClock.now
        while await alive(httpPort) < agents {
            guard ContinuousClock.now - start < .seconds(60) else { throw ValidationError("only \(await alive(httpPort)) agents alive after 60 s") }
            try await Task.sleep(for: .milliseconds(200))
        }
        _ = try await post(httpPort, limit: 10, wait: true)  // warm-up

        // One measurement on every agent.
        let callsBefore = await dbosCalls(httpPort)
        let cpuBefore = pids.mapValues(LiveBench.cpuSeconds)
        let began = ContinuousClock.now
        let big = try await post(httpPort, limit: agents, wait: true)
        let elapsed = ContinuousClock.now - began
        let runs = big?["runs"]?.arrayValue ?? []
        let stored = runs.filter { $0["state"] == "completed" && $0["result"]?["message"] != nil }.count
        let calls = await dbosCalls(httpPort).merging(callsBefore) { $0 - $1 }.filter { $0.value > 0 }
        print("one measurement on \(agents) agents: \(runs.count) runs, \(stored) completed with their result stored, in \(ms(elapsed)) (goal < 2 s)")
        print(
            "  DBOS calls it took: \(calls.values.reduce(0, +)) (\(calls.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); goal: a handful; StoreResultStream is one open stream)"
        )
        printCPU(pids: pids, before: cpuBefore, seconds: elapsed / .seconds(1), runs: runs.count)

        // Sustained: `clients` clients post 10-run measurements for `seconds` seconds.
        let ingestedBefore = await ingested(httpPort)
        let cpuSustained = pids.mapValues(LiveBench.cpuSeconds)
        let sustainedStart = ContinuousClock.now
        let end = sustainedStart + .seconds(seconds)
        let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    var count = 0
                    while ContinuousClock.now < end {
                        if try await post(httpPort, limit: 10, wait: false) != nil { count += 1 }
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let posted = ContinuousClock.now - sustainedStart
        let expected = ingestedBefore + Double(accepted * 10)
        while await ingested(httpPort) < expected && ContinuousClock.now - sustainedStart < posted + .seconds(60) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let allStored = ContinuousClock.now - sustainedStart
        let storedRuns = Int(await ingested(httpPort) - ingestedBefore)
        let rate = Double(accepted) / (allStored / .seconds(1))
        print(
            "\(clients) clients, 10-run measurements for \(seconds) s: \(accepted) accepted (\(format(Double(accepted) / (posted / .seconds(1))))/s), "
                + "\(storedRuns) of \(accepted * 10) runs stored after \(ms(allStored)): \(format(rate)) measurements/s with every run stored (goal ≥ 200)"
        )
        printCPU(pids: pids, before: cpuSustained, seconds: allStored / .seconds(1), runs: storedRuns)
    }

    func printCPU(pids: [String: Int32], before: [String: Double], seconds: Double, runs: Int) {
        let used = pids.mapValues(LiveBench.cpuSeconds).merging(before) { $0 - $1 }
        let total = used.values.reduce(0, +)
        let parts = used.sorted { $0.key < $1.key }.map { String(format: "%@ %.0f%%", $0.key, $0.value / seconds * 100) }
        print(
            "  CPU: " + parts.joined(separator: ", ")
                + String(format: "; %.3f ms of CPU per run over all processes", runs > 0 ? total * 1000 / Double(runs) : 0))
    }

    func post(_ port: Int, limit: Int, wait: Bool) async throws -> JSONValue? {
        let body = #"{"module":"echo_module","input":{"message":"bench"},"locations":[{"tags":["loadgen"]}],"limit":\#(limit)}"#
        let reply = try await LoopbackHTTP.request("POST", port: port, path: "/measurements" + (wait ? "?wait=60" : ""), body: body)
        guard reply.status == 200 || reply.status == 202 else {
            print("POST /measurements: \(reply.status) \(reply.body.prefix(200))")
            return nil
        }
        return JSONValue(parsing: Array(reply.body.utf8))
    }

    func alive(_ port: Int) async -> Int {
        let status = (try? await LoopbackHTTP.request("GET", port: port, path: "/status"))?.body ?? ""
        return Int(JSONValue(parsing: Array(status.utf8))?["agents_alive"]?.numberValue ?? 0)
    }

    /// `imn_dbos_client_calls_total` by method, from the server's /metrics.
    func dbosCalls(_ port: Int) async -> [String: Int] {
        var calls: [String: Int] = [:]
        for (labels, value) in await samples(port, "imn_dbos_client_calls_total") {
            guard let range = labels.range(of: "method=\""), let close = labels[range.upperBound...].firstIndex(of: "\"") else { continue }
            calls[String(labels[range.upperBound..<close]), default: 0] += Int(value)
        }
        return calls
    }

    /// Runs stored by the ingestion (`imn_server_ingested_total{state="completed"}`).
    func ingested(_ port: Int) async -> Double {
        await samples(port, "imn_server_ingested_total").filter { $0.labels.contains("completed") }.map(\.value).reduce(0, +)
    }

    func samples(_ port: Int, _ name: String) async -> [(labels: String, value: Double)] {
        let text = (try? await LoopbackHTTP.request("GET", port: port, path: "/metrics"))?.body ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard line.hasPrefix(name + "{"), let close = line.lastIndex(of: "}"),
                let value = Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces))
            else { return nil }
            return (String(line[..<close]), value)
        }
    }

    func ms(_ duration: Duration) -> String { String(format: "%.0f ms", duration / .milliseconds(1)) }
}
