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
