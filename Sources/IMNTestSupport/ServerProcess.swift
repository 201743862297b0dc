import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real server process started for a test: its own port and data folder, logs in that
/// folder, and `kill -9` / restart for fault tests. ``stop()`` kills it and removes the folder.
public final class ServerProcess: @unchecked Sendable {
    // @unchecked: the mutable `process` is only touched by the test that owns this server,
    // one call at a time.
    public let name: String
    public let port: Int
    public let directory: URL
    private let executable: String
    private let arguments: [String]
    private let environment: [String: String]
    private var process: Process?

    /// `environment` is added to this process's own.
    public init(name: String, executable: String, port: Int, directory: URL, arguments: [String], environment: [String: String] = [:]) {
        self.name = name
        self.executable = executable
        self.port = port
        self.directory = directory
        self.arguments = arguments
        self.environment = environment
    }

    public var pid: Int32? { process?.processIdentifier }
    public var logFile: URL { directory.appendingPathComponent("\(name).log") }

    /// Starts the process and waits until its port accepts connections.
    public func start(timeout: Duration = .seconds(10)) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = directory
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logFile)
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + timeout
        // Accepting is not enough: another process could hold the port. Ours must still run.
        while !(FreePort.isAccepting(port) && process.isRunning) {
            guard process.isRunning else {
                throw ServerProcessError("\(name) exited at start with status \(process.terminationStatus); log: \(tail())")
            }
            guard ContinuousClock.now < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw ServerProcessError("\(name) did not accept connections on port \(port) within \(timeout); log: \(tail())")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(20))
        guard process.isRunning else {
            throw ServerProcessError("\(name) exited right after start (port \(port) taken?); log: \(tail())")
        }
    }

    /// `kill -9`: no shutdown, no final write.
    public func kill9() async {
        await signalAndWait(SIGKILL)
    }

    /// SIGTERM, the polite stop.
    public func terminate() async {
        await signalAndWait(SIGTERM)
    }

    /// Starts again on the same port with the same data folder.
    public func restart() async throws {
        if process?.isRunning == true { await terminate() }
        try await start()
    }

    public func pause() { if let pid { kill(pid, SIGSTOP) } }
    public func resume() { if let pid { kill(pid, SIGCONT) } }

    /// Kills the process and removes its data folder.
    public func stop() async {
        await kill9()
        try? FileManager.default.removeItem(at: directory)
    }

    private func signalAndWait(_ signal: Int32) async {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGCONT)
        kill(process.processIdentifier, signal)
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        // The port may linger a moment after exit; wait until nothing accepts on it.
        while FreePort.isAccepting(port) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The last lines of the log, for error messages.
    public func tail(lines: Int = 15) -> String {
        guard let data = FileManager.default.contents(atPath: logFile.path) else { return "(no log)" }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    static func makeDirectory(_ prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("imn-\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

public struct ServerProcessError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` with a started server and always stops it (and removes its data), whether
/// `body` returns or throws.
public func withServer<T>(_ server: ServerProcess, _ body: (ServerProcess) async throws -> T) async throws -> T {
    do {
        try await server.start()
    } catch {
        await server.stop()
        throw error
    }
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}
