import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs blocking work (a socket read, waiting for a child process) on a Dispatch thread, so that
/// a test never holds one of the few cooperative threads that every test running in parallel
/// shares. A blocked cooperative thread stalls the others' servers and clients.
public func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try body() })
        }
    }
}

/// Runs a program to its end and returns its exit status with its standard output and error
/// together. Blocking: call it inside ``offload(_:)``.
public func runProgram(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("imn-program-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("output")
    let status = try spawnAndWait(executable, arguments, environment: [:], output: file.path, error: file.path)
    return (status, String(decoding: (try? Data(contentsOf: file)) ?? Data(), as: UTF8.self))
}

/// What a program printed, apart, and how it ended.
public struct ProgramOutput: Sendable {
    public var status: Int32
    public var standardOutput: String
    public var standardError: String
}

/// Runs a program to its end with extra environment variables, its standard output and error
/// kept apart. Blocking: call it inside ``offload(_:)``.
public func runProgram(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> ProgramOutput {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("imn-program-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let out = folder.appendingPathComponent("out")
    let err = folder.appendingPathComponent("err")
    let status = try spawnAndWait(executable, arguments, environment: environment, output: out.path, error: err.path)
    return ProgramOutput(
        status: status, standardOutput: String(decoding: (try? Data(contentsOf: out)) ?? Data(), as: UTF8.self),
        standardError: String(decoding: (try? Data(contentsOf: err)) ?? Data(), as: UTF8.self))
}

/// posix_spawn and waitpid, without Foundation's `Process`: its exit monitoring was seen to miss
/// a child that ended while other tests' processes ended too (the child a zombie, `waitUntilExit`
/// waiting for ever). Output goes to files, never a pipe another test's child could inherit and
/// hold open. Standard input is /dev/null.
func spawnAndWait(_ executable: String, _ arguments: [String], environment: [String: String], output: String, error: String) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    if error == output {
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
    } else {
        posix_spawn_file_actions_addopen(&actions, 2, error, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    }
    let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp = variables.map { strdup($0) } + [nil]
    defer {
        for pointer in argv { free(pointer) }
        for pointer in envp { free(pointer) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
    guard spawned == 0 else { throw ServerProcessError("cannot start \(executable): \(String(cString: strerror(spawned)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    // WIFEXITED / WEXITSTATUS, or 128 + the signal, as a shell reports it.
    return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
}
