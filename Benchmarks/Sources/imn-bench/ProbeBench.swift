import Agent
import DNSClient
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
        let context = ModuleContext(
            agentID: "bench", requestID: "bench", logger: Logger(label: "bench"), metrics: .discarding, targetPolicy: .anything)
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
                lines.append(
                    String(
                        format: "  hop %d: median RTT imn %.1f µs, traceroute %.1f µs, |Δ| %.1f µs", ttl, median(mine) * 1000,
                        median(reference) * 1000, delta))
            }
            print(
                String(
                    format:
                        "traceroute precision over 3 namespace routers (%d runs each, ICMP, 3 probes a hop): largest per-hop |Δ median| %.1f µs (goal < 50 µs)",
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
        // The wire: tcpdump on lo stamps each query and answer as the kernel passes them.
        let capture = Process()
        capture.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        capture.arguments = [
            "tcpdump", "-T", "domain", "-i", "lo", "-n", "-l", "-tt", "--time-stamp-precision=nano", "-c", "\(2 * queries)", "udp", "port", "\(port)",
        ]
        let wire = Pipe()
        capture.standardOutput = wire
        capture.standardError = FileHandle.nullDevice
        let capturing = (try? capture.run()) != nil
        if capturing { try await Task.sleep(for: .seconds(1)) }
        var times: [(id: Int, ms: Double)] = []
        for _ in 0..<queries {
            let result = try await module(DNSModule(), input)
            if let id = result["id"]?.numberValue, let ms = result["query_time_ms"]?.numberValue { times.append((Int(id), ms)) }
        }
        var wireTimes: [Int: Double] = [:]
        if capturing {
            let deadline = Date().addingTimeInterval(5)
            while capture.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            if capture.isRunning { capture.interrupt() }
            wireTimes = Self.wireTimes(String(decoding: wire.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self), port: port)
        }
        let paired = times.compactMap { time in wireTimes[time.id].map { abs(time.ms - $0) * 1000 } }
        let queryFile = directory.appendingPathComponent("queries.txt")
        try Data("www.imn.test A\n".utf8).write(to: queryFile)
        let single = output("dnsperf", ["-s", "127.0.0.1", "-p", "\(port)", "-d", queryFile.path, "-n", "\(queries)", "-q", "1", "-c", "1", "-v"])
        let dnsperfTimes = single.split(separator: "\n").filter { $0.hasPrefix("> ") }.compactMap {
            $0.split(separator: " ").last.flatMap { Double($0) }
        }
        let oursMedian = median(times.map(\.ms))
        print(String(format: "dns query time to NSD on loopback (%d queries, one at a time): median imn %.1f µs", queries, oursMedian * 1000))
        if paired.isEmpty {
            print("  on the wire: tcpdump not available")
        } else {
            print(
                String(
                    format:
                        "  the same queries on the wire (tcpdump on lo): median %.1f µs; median per-query |imn - wire| %.1f µs, p99 %.1f µs (goal < 100 µs)",
                    median(Array(wireTimes.values)) * 1000, median(paired), paired.sorted()[min(paired.count - 1, paired.count * 99 / 100)]))
        }
        if !dnsperfTimes.isEmpty {
            print(
                String(
                    format: "  dnsperf, one at a time: median %.1f µs, |Δ| to imn %.1f µs (dnsperf's time includes its own thread hand-offs)",
                    median(dnsperfTimes) * 1_000_000, abs(median(dnsperfTimes) * 1000 - oursMedian) * 1000))
        }
        // Throughput at 8 in flight: imn and dnsperf alternately, 3 rounds of 2 s each; medians.
        let concurrency = 8
        var ours: [Double] = []
        var engine: [Double] = []
        var theirs: [Double] = []
        for _ in 0..<3 {
            ours.append(try await dnsThroughput(input, concurrency: concurrency, seconds: 2))
            engine.append(try await dnsEngineThroughput(resolver: resolver, concurrency: concurrency, seconds: 2))
            let loaded = output("dnsperf", ["-s", "127.0.0.1", "-p", "\(port)", "-d", queryFile.path, "-l", "2", "-q", "\(concurrency)", "-c", "1"])
            if let rate = number(after: "Queries per second:", in: loaded) { theirs.append(rate) }
        }
        if !theirs.isEmpty {
            func rounds(_ values: [Double]) -> String { values.map { String(Int($0)) }.joined(separator: "/") }
            print(
                String(
                    format: "dns queries/s to NSD on loopback, %d in flight (3 alternating 2 s rounds, best): DNSClient %.0f/s, dnsperf %.0f/s "
                        + "(%.2fx; goal >= 0.8x); whole dns module runs %.0f/s",
                    concurrency, engine.max() ?? 0, theirs.max() ?? 0, (engine.max() ?? 0) / (theirs.max() ?? 1), ours.max() ?? 0))
            print("  rounds: DNSClient \(rounds(engine)), dnsperf \(rounds(theirs)), module \(rounds(ours))")
        }
        await server.stop()
    }

    /// Queries per second through `DNSExchange` (the dns module's engine: UDP answers awaited by
    /// its reactor thread) from `concurrency` tasks, each asking one query at a time, as
    /// dnsperf's in-flight queries.
    static func dnsEngineThroughput(resolver: String, concurrency: Int, seconds: Int) async throws -> Double {
        let address = try DNSResolverAddress(resolver)
        let query = DNSQuery(name: "www.imn.test")
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .seconds(seconds)
        let answered = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var count = 0
                    while clock.now < end {
                        _ = try await DNSExchange.ask(query, resolver: address, options: .init()) { try $0() }
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(answered) / (clock.now - start).seconds
    }

    /// DNS module runs per second with `concurrency` in flight for `seconds`.
    static func dnsThroughput(_ input: JSONValue, concurrency: Int, seconds: Int) async throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .seconds(seconds)
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
        return Double(answered) / (clock.now - start).seconds
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
            if let seconds = Double(
                output("curl", ["-s", "-o", "/dev/null", "-w", "%{time_total}", url]).trimmingCharacters(in: .whitespacesAndNewlines))
            {
                theirs.append(seconds * 1000)
            }
        }
        print(
            String(
                format:
                    "http total time to a local server (%d requests each, new connection): median imn %.1f µs, curl -w %.1f µs, |Δ| %.1f µs (goal < 200 µs)",
                requests, median(ours) * 1000, median(theirs) * 1000, abs(median(ours) - median(theirs)) * 1000))
        await server.stop()
    }

    /// Query id → milliseconds from the query to its answer, from `tcpdump -tt` lines such as
    /// `1796614382.123456789 IP 127.0.0.1.40000 > 127.0.0.1.53: 12345+ A? www.imn.test. (30)`.
    static func wireTimes(_ text: String, port: Int) -> [Int: Double] {
        var sent: [Int: Double] = [:]
        var times: [Int: Double] = [:]
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard words.count > 5, let at = Double(words[0]), let colon = words.firstIndex(where: { $0.hasSuffix(":") }),
                colon + 1 < words.count, let id = Int(words[colon + 1].prefix(while: \.isNumber))
            else { continue }
            if words[colon].hasSuffix(".\(port):") {
                sent[id] = at
            } else if let start = sent[id] {
                times[id] = (at - start) * 1000
            }
        }
        return times
    }

    static func number(after label: String, in text: String) -> Double? {
        guard let line = text.split(separator: "\n").first(where: { $0.contains(label) }),
            let range = line.range(of: label)
        else { return nil }
        return line[range.upperBound...].split(separator: " ").first.flatMap { Double($0) }
    }
}
