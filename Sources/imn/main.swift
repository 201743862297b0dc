import NIOCore
import NIOPosix

// Swift tasks run on NIO's event-loop threads instead of a separate pool, so a gRPC or HTTP
// handler and its socket I/O no longer hand work between threads at every step. Measured with
// `imn dbos` on 2 cores: a unary gRPC call cost ~570 µs of CPU, mostly thread wake-ups,
// before this. Blocking work never runs on these threads (hiredis and libnats use their own).
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

/// Inside an async function the compiler picks ArgumentParser's async `main()`, which runs
/// async subcommands; at top level it would pick the synchronous one.
func runCommand() async { await IMN.main() }
await runCommand()
