import ArgumentParser

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imn-bench",
        abstract: "Prints throughput figures of IMN's clients against real servers on loopback.",
        subcommands: [
            RedisBench.self, NATSBench.self, DBOSBench.self, StoreBench.self, AgentBench.self, ServerBench.self, OTLPBench.self, LiveBench.self,
            MeasurementBench.self, ArchiveBench.self,
        ])
}

/// Runs `operations` and returns operations per second.
func rate(_ operations: Int, _ body: () async throws -> Void) async throws -> Double {
    let clock = ContinuousClock()
    let elapsed = try await clock.measure { try await body() }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Double(operations) / seconds
}

func format(_ value: Double) -> String {
    let rounded = Int(value.rounded())
    var digits = String(rounded)
    var groups: [String] = []
    while digits.count > 3 {
        groups.insert(String(digits.suffix(3)), at: 0)
        digits.removeLast(3)
    }
    groups.insert(digits, at: 0)
    return groups.joined(separator: ",")
}

/// p50 / p99 of latencies, in microseconds.
func percentiles(_ samples: [Duration]) -> (p50: Double, p99: Double) {
    let sorted = samples.sorted()
    func micros(_ d: Duration) -> Double { Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12 }
    guard !sorted.isEmpty else { return (0, 0) }
    return (micros(sorted[sorted.count / 2]), micros(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]))
}
