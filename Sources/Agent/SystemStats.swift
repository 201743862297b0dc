import FoundationEssentials
import Glibc
import IMNCore
import Synchronization

/// CPU, memory, load, disk and network figures from /proc (Linux). CPU use is measured between
/// two samples, so the first sample reports none.
final class SystemStats: Sendable {
    struct Sample: Sendable {
        var cpuPercent: Double?
        var memoryTotalBytes: Int64 = 0
        var memoryAvailableBytes: Int64 = 0
        var load: [Double] = []
        var diskTotalBytes: Int64 = 0
        var diskFreeBytes: Int64 = 0
        var network: [String: (rx: Int64, tx: Int64)] = [:]
        /// This process's resident memory (not part of `json`, which describes the host).
        var residentBytes: Int64 = 0

        var json: JSONValue {
            var object: [String: JSONValue] = [
                "memory_total_bytes": .number(Double(memoryTotalBytes)),
                "memory_available_bytes": .number(Double(memoryAvailableBytes)),
                "load_1m": .number(load.first ?? 0), "load_5m": .number(load.dropFirst().first ?? 0),
                "load_15m": .number(load.dropFirst(2).first ?? 0),
                "disk_total_bytes": .number(Double(diskTotalBytes)), "disk_free_bytes": .number(Double(diskFreeBytes)),
                "network": .object(
                    network.mapValues { .object(["rx_bytes": .number(Double($0.rx)), "tx_bytes": .number(Double($0.tx))]) }),
            ]
            if let cpuPercent { object["cpu_percent"] = .number((cpuPercent * 10).rounded() / 10) }
            return .object(object)
        }
    }

    private let previousCPU = Mutex<(busy: Int64, total: Int64)?>(nil)

    func sample() -> Sample {
        var sample = Sample()
        if let cpu = Self.cpuTimes() {
            let previous = previousCPU.withLock { previous in
                defer { previous = cpu }
                return previous
            }
            if let previous, cpu.total > previous.total {
                sample.cpuPercent = Double(cpu.busy - previous.busy) / Double(cpu.total - previous.total) * 100
            }
        }
        let memory = Self.keyValues("/proc/meminfo")
        sample.memoryTotalBytes = (memory["MemTotal"] ?? 0) * 1024
        sample.memoryAvailableBytes = (memory["MemAvailable"] ?? 0) * 1024
        if let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
            sample.load = text.split(separator: " ").prefix(3).compactMap { Double($0) }
        }
        var disk = statvfs()
        if statvfs("/", &disk) == 0 {
            sample.diskTotalBytes = Int64(disk.f_blocks) * Int64(disk.f_frsize)
            sample.diskFreeBytes = Int64(disk.f_bavail) * Int64(disk.f_frsize)
        }
        sample.network = Self.interfaces()
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int64($0) })
        {
            sample.residentBytes = pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
        }
        return sample
    }

    /// Busy and total jiffies of all CPUs.
    static func cpuTimes() -> (busy: Int64, total: Int64)? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        else { return nil }
        let values = line.split(separator: " ").dropFirst().compactMap { Int64($0) }
        guard values.count >= 4 else { return nil }
        let idle = values[3] + (values.count > 4 ? values[4] : 0)
        let total = values.reduce(0, +)
        return (total - idle, total)
    }

    static func keyValues(_ path: String) -> [String: Int64] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var result: [String: Int64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            result[String(parts[0])] = Int64(parts[1].split(separator: " ").first ?? "")
        }
        return result
    }

    static func interfaces() -> [String: (rx: Int64, tx: Int64)] {
        guard let text = try? String(contentsOfFile: "/proc/net/dev", encoding: .utf8) else { return [:] }
        var result: [String: (rx: Int64, tx: Int64)] = [:]
        for line in text.split(separator: "\n").dropFirst(2) {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let fields = parts[1].split(separator: " ").compactMap { Int64($0) }
            guard fields.count >= 9 else { continue }
            result[parts[0].trimmed] = (fields[0], fields[8])
        }
        return result
    }
}
