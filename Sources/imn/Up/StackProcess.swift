import Foundation
import IMNCore

#if canImport(Glibc)
    import Glibc
#endif

/// One process of the local stack: spawned in a process group of its own (so a Ctrl-C in the
/// terminal reaches only `imn up`, which then stops everything in order), output appended to its
/// log file.
final class StackProcess {
    let name: String
    let log: URL
    private(set) var pid: pid_t = 0

    init(name: String, log: URL) {
        self.name = name
        self.log = log
    }

    func start(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, no blocked signals and default dispositions: whatever `imn up`
        // inherited or set up for itself (it traps SIGINT and SIGTERM) must not reach the children.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGUSR1, SIGUSR2] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in envp { free(pointer) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard status == 0 else { throw UpError("\(name): cannot start \(executable): \(String(cString: strerror(status)))") }
        pid = child
    }

    /// True while the process runs; reaps it once it has exited.
    var isRunning: Bool {
        guard pid > 0 else { return false }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid {
            pid = 0
            return false
        }
        return result == 0
    }

    /// SIGTERM, up to `grace` for it to exit, then SIGKILL.
    func stop(grace: Duration = .seconds(10)) async {
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if pid > 0 {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            pid = 0
        }
    }

    /// The last lines of the log, for errors.
    func tail(_ lines: Int = 5) -> String {
        guard let data = FileManager.default.contents(atPath: log.path) else { return "" }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}

struct UpError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Loopback probes used while starting the stack.
enum LocalPort {
    static func isAccepting(_ port: Int) -> Bool { withSocket(port) { _ in true } ?? false }

    /// GET `path` on 127.0.0.1:`port`; the status code, or nil when nothing answers.
    static func status(_ port: Int, path: String) -> Int? {
        withSocket(port) { fd -> Int? in
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 12 else { return nil }
            return Int(String(decoding: buffer[9..<12], as: UTF8.self))
        } ?? nil
    }

    private static func withSocket<T>(_ port: Int, _ body: (Int32) -> T) -> T? {
        guard let fd = Loopback.connect(port: port) else { return nil }
        defer { close(fd) }
        return body(fd)
    }
}
