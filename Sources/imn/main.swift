import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

// Swift tasks run on NIO's event-loop threads instead of a separate pool, so a gRPC or HTTP
// handler and its socket I/O no longer hand work between threads at every step. Measured with
// `imn dbos` on 2 cores: a unary gRPC call cost ~570 µs of CPU, mostly thread wake-ups,
// before this. Blocking work never runs on these threads (hiredis and libnats use their own).
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

/// What ArgumentParser's async `main()` does, except that a usage mistake exits 2, as most
/// command-line tools do (ArgumentParser's own code is 64); the client commands document 2.
func runCommand() async {
    do {
        var command = try IMN.parseAsRoot()
        if var asyncCommand = command as? AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
    } catch {
        if IMN.exitCode(for: error) == .validationFailure {
            FileHandle.standardError.write(Data((IMN.fullMessage(for: error) + "\n").utf8))
            exit(2)
        }
        IMN.exit(withError: error)
    }
}
await runCommand()
