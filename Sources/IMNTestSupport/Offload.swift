import Dispatch
import Foundation

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
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

/// What a program printed, apart, and how it ended.
public struct ProgramOutput: Sendable {
    public var status: Int32
    public var standardOutput: String
    public var standardError: String
}

/// Runs a program to its end with extra environment variables, its standard output and error
/// kept apart (in files, so neither can fill a pipe). Blocking: call it inside ``offload(_:)``.
public func runProgram(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> ProgramOutput {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("imn-program-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let out = folder.appendingPathComponent("out")
    let err = folder.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return ProgramOutput(
        status: process.terminationStatus, standardOutput: String(decoding: try Data(contentsOf: out), as: UTF8.self),
        standardError: String(decoding: try Data(contentsOf: err), as: UTF8.self))
}
