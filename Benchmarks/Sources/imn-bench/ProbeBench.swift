import Agent
import Foundation
import IMNCore
import IMNTestSupport
import Logging

/// The probe modules next to the reference tools, in the same run: traceroute per-hop RTTs
/// against Debian's `traceroute` on a namespace router chain, DNS query time against
/// `dnsperf` (one query at a time) and DNS queries/s against `dnsperf` at the same concurrency
/// (both against NSD on loopback), HTTP total time against `curl -w`.
enum ProbeBench {
    static func run(rounds: Int) async throws {
        if NetworkNamespace.available {
            try await traceroute(rounds: rounds)
        } else {
            print("traceroute precision: skipped (needs root and `ip netns`)")
        }
        try await dns(queries: rounds * 20)
        try await http(requests: rounds * 10)
    }

    static func module(_ module: any MeasurementModule, _ input: JSONValue) async throws -> JSONValue {
        let schema = JSONSchema(module.spec.inputSchema)
        let context = ModuleContext(agentID: "bench", requestID: "bench", logger: Logger(label: "bench"), metrics: .discarding, targetPolicy: .anything)
        return try await module.run(input: schema.applyingDefaults(to: input), context: context)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func output(_ command: String, _ arguments: [String]) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        guard (try? process.run()) != nil else { return "" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Alternates one imn traceroute and one Debian traceroute (ICMP, 3 probes a hop) over the
    /// chain; per hop, the median RTT of each; prints the largest |Δ| of the medians.
    static func traceroute(rounds: Int) async throws {
        try await RouterChain.with { chain in
            var ours: [Int: [Double]] = [:]
            var theirs: [Int: [Double]] = [:]
            for _ in 0..<rounds {
                let result = try await module(TracerouteModule(), ["host": .string(chain.target), "wait": 0.3])
                for hop in result["hops"]?.arrayValue ?? [] {
                    let ttl = Int(hop["ttl"]?.numberValue ?? 0)
                    ours[ttl, default: []] += (hop["probes"]?.arrayValue ?? []).compactMap { $0["rtt_ms"]?.numberValue }
                }
                let text = output("traceroute", ["-n", "-I", "-q", "3", "-w", "0.3", chain.target])
                for line in text.split(separator: "\n").dropFirst() {
                    let words = line.split(separator: " ")
                    guard let ttl = words.first.flatMap({ Int($0) }) else { continue }
                    theirs[ttl, default: []] += zip(words, words.dropFirst()).compactMap { $1 == "ms" ? Double($0) : nil }
                }
            }
            var worst = 0.0
            var lines: [String] = []
            for ttl in ours.keys.sorted() {
                guard let mine = ours[ttl], let reference = theirs[ttl], !mine.isEmpty, !reference.isEmpty else {
                    lines.append("  hop \(ttl): * (no answer to either)")
                    continue
                }
                let delta = abs(median(mine) - median(reference)) * 1000
                worst = max(worst, delta)
                lines.append(String(format: "  hop %d: median RTT imn %.1f µs, traceroute %.1f µs, |Δ| %.1f µs", ttl, median(mine) * 1000, median(reference) * 1000, delta))
            }
            print(
                String(
                    format: "traceroute precision over 3 namespace routers (%d runs each, ICMP, 3 probes a hop): largest per-hop |Δ median| %.1f µs (goal < 50 µs)",
                    rounds, worst))
            lines.forEach { print($0) }
        }
    }

    /// NSD on loopback: query time against dnsperf's average latency with one query in flight,
    /// and queries/s at 8 in flight against dnsperf with 8 in flight.
    static func dns(queries: Int) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-bench-dns-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let port = FreePort.next()
        let server = ServerProcess(
            name: "nsd", executable: "/bin/bash", port: port, directory: directory,
            arguments: [Repository.path("scripts/testbed/dns-server").path, "\(port)", directory.appendingPathComponent("nsd").path])
        try await server.start()
        defer { Task { await server.stop() } }
        let resolver = "127.0.0.1:\(port)"
        let input: JSONValue = ["name": "www.imn.test", "resolver": .string(resolver)]
        var times: [Double] = []
        for _ in 0..<queries { times.append(try await module(DNSModule(), input)["query_time_ms"]?.numberValue ?? .nan) }
        let queryFile = directory.appendingPathComponent("queries.txt")
        try Data("www.imn.test A\n".utf8).write(to: queryFile)
        let single = output("dnsperf", ["-s", "127.0.0.1", "-p", "\(port)", "-d", queryFile.path, "-n", "\(queries)", "-q", "1", "-c", "1"])
        let dnsperfLatency = number(after: "Average Latency (s):", in: single).map { $0 * 1000 }
        let oursMedian = median(times)
        if let dnsperfLatency {
            print(
                String(
                    format: "dns query time to NSD on loopback (%d queries, one at a time): median imn %.1f µs, dnsperf average %.1f µs, |Δ| %.1f µs (goal < 100 µs)",
                    queries, oursMedian * 1000, dnsperfLatency * 1000, abs(oursMedian - dnsperfLatency) * 1000))
        } else {
            print("dns query time: dnsperf not available (\(single.prefix(200)))")
        }
        // Throughput: 8 in flight for 5 s each.
        let concurrency = 8
        let clock = ContinuousClock()
        let end = clock.now + .seconds(5)
        let start = clock.now
        let answered = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var count = 0
                    while clock.now < end {
                        _ = try await module(DNSModule(), input)
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let ours = Double(answered) / (clock.now - start).seconds
        let loaded = output("dnsperf", ["-s", "127.0.0.1", "-p", "\(port)", "-d", queryFile.path, "-l", "5", "-q", "\(concurrency)", "-c", "1"])
        if let theirs = number(after: "Queries per second:", in: loaded) {
            print(
                String(
                    format: "dns queries/s to NSD on loopback, %d in flight: imn %.0f/s (the whole module run), dnsperf %.0f/s (%.2fx; goal >= 0.8x)",
                    concurrency, ours, theirs, ours / theirs))
        }
        await server.stop()
    }

    /// The local test server's /ok: alternating imn and `curl -w %{time_total}`, a new
    /// connection each time; |Δ| of the medians.
    static func http(requests: Int) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-bench-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let port = FreePort.next()
        let server = ServerProcess(
            name: "http-server", executable: "/usr/bin/python3", port: port, directory: directory,
            arguments: [Repository.path("scripts/testbed/http-server.py").path, "--port", "\(port)"])
        try await server.start()
        defer { Task { await server.stop() } }
        let url = "http://127.0.0.1:\(port)/ok"
        var ours: [Double] = []
        var theirs: [Double] = []
        for _ in 0..<requests {
            if let total = try await module(HTTPModule(), ["url": .string(url)])["timings_ms"]?["total"]?.numberValue { ours.append(total) }
            if let seconds = Double(output("curl", ["-s", "-o", "/dev/null", "-w", "%{time_total}", url]).trimmingCharacters(in: .whitespacesAndNewlines)) {
                theirs.append(seconds * 1000)
            }
        }
        print(
            String(
                format: "http total time to a local server (%d requests each, new connection): median imn %.1f µs, curl -w %.1f µs, |Δ| %.1f µs (goal < 200 µs)",
                requests, median(ours) * 1000, median(theirs) * 1000, abs(median(ours) - median(theirs)) * 1000))
        await server.stop()
    }

    static func number(after label: String, in text: String) -> Double? {
        guard let line = text.split(separator: "\n").first(where: { $0.contains(label) }),
            let range = line.range(of: label)
        else { return nil }
        return line[range.upperBound...].split(separator: " ").first.flatMap { Double($0) }
    }
}
