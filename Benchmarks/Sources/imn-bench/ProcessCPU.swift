import Foundation

/// CPU time of the benchmark's processes, read from `/proc/<pid>/stat`, for a per-process table
/// of milliseconds of CPU per run.
struct ProcessCPU {
    let pids: [(name: String, pid: Int32)]
    private var before: [Double]

    init(_ pids: [(name: String, pid: Int32)]) {
        self.pids = pids
        before = pids.map { LiveBench.cpuSeconds($0.pid) }
    }

    /// Starts counting again from now.
    mutating func reset() { before = pids.map { LiveBench.cpuSeconds($0.pid) } }

    /// One line per process, ms of CPU per run and % of a core over `seconds`, then the total and
    /// what it allows on the machine's cores; returns the total ms per run.
    @discardableResult
    func printTable(runs: Int, seconds: Double, indent: String = "    ") -> Double {
        let used = zip(pids, before).map { ($0.name, LiveBench.cpuSeconds($0.pid) - $1) }
        let total = used.map(\.1).reduce(0, +)
        let perRun = { (seconds: Double) in runs > 0 ? seconds * 1000 / Double(runs) : 0 }
        print(indent + "CPU per run (ms), by process, over \(runs) runs in \(String(format: "%.1f", seconds)) s:")
        for (name, cpu) in used {
            print(
                indent + "  " + name.padding(toLength: 8, withPad: " ", startingAt: 0)
                    + String(format: "%7.3f ms   %5.1f %% of a core", perRun(cpu), cpu / max(seconds, 1e-9) * 100))
        }
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        let ceiling = perRun(total) > 0 ? cores * 1000 / perRun(total) : 0
        print(
            indent + "  " + "all".padding(toLength: 8, withPad: " ", startingAt: 0)
                + String(format: "%7.3f ms   (goal ≤ 1 ms; at this cost %.0f cores allow %@ runs/s)", perRun(total), cores, format(ceiling)))
        return perRun(total)
    }
}
