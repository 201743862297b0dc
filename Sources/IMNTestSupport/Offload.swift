import Dispatch

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
