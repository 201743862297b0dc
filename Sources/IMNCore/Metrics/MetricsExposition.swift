import Glibc

/// What every IMN `/metrics` serves around its registry's families: `imn_build_info`, the
/// standard `process_*` families (read from /proc at scrape time, as Prometheus client libraries
/// do), any `extra` text (the OTLP exporter's counts), and a `# HELP` line for every family
/// (``MetricHelp``). Text format 0.0.4.
public enum MetricsExposition {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `registry`'s exposition with the process families, build info and `extra` appended, every family helped.
    public static func document(_ registry: [UInt8], service: String, extra: String = "") -> [UInt8] {
        var text = String(decoding: registry, as: UTF8.self)
        if !text.isEmpty, !text.hasSuffix("\n") { text += "\n" }
        text += buildInfo(service: service) + ProcessStats.exposition() + extra
        return Array(MetricHelp.annotate(text).utf8)
    }

    static func buildInfo(service: String) -> String {
        #if swift(>=6.3)
            let swift = "6.3"
        #elseif swift(>=6.2)
            let swift = "6.2"
        #else
            let swift = "6.1"
        #endif
        return "# TYPE imn_build_info gauge\nimn_build_info{service=\"\(service)\",version=\"\(IMNVersion.current)\",swift=\"\(swift)\"} 1\n"
    }
}

/// This process's CPU time, memory, file descriptors and start time, from /proc/self.
enum ProcessStats {
    static func exposition() -> String {
        var text = ""
        func family(_ name: String, _ type: String, _ value: Double?) {
            guard let value else { return }
            text += "# TYPE \(name) \(type)\n\(name) \(format(value))\n"
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        // /proc/self/stat: fields after the command's closing parenthesis; utime, stime (14, 15),
        // starttime (22), vsize (23), rss (24) counting from 1 over the whole line.
        let stat = read("/proc/self/stat").flatMap { line -> [Substring]? in
            guard let end = line.lastIndex(of: ")") else { return nil }
            return line[line.index(after: end)...].split(separator: " ")
        }
        func field(_ number: Int) -> Double? {
            guard let stat, number - 3 < stat.count else { return nil }
            return Double(stat[number - 3])
        }
        if let user = field(14), let system = field(15) { family("process_cpu_seconds_total", "counter", (user + system) / ticks) }
        if let rss = field(24) { family("process_resident_memory_bytes", "gauge", rss * page) }
        family("process_virtual_memory_bytes", "gauge", field(23))
        if let start = field(22), let boot = bootTime { family("process_start_time_seconds", "gauge", boot + start / ticks) }
        family("process_open_fds", "gauge", openFileDescriptors())
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { family("process_max_fds", "gauge", Double(limit.rlim_cur)) }
        return text
    }

    /// Seconds since the epoch at boot (`btime` in /proc/stat).
    static let bootTime: Double? = read("/proc/stat")?.split(separator: "\n").first { $0.hasPrefix("btime ") }
        .flatMap { Double($0.dropFirst(6)) }

    static func openFileDescriptors() -> Double? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != CChar(UInt8(ascii: ".")) { count += 1 }
        }
        return Double(count - 1)  // the descriptor opendir holds
    }

    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
