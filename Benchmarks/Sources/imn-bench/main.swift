import NIOCore
import NIOPosix

// Like `imn`: Swift tasks on NIO's event loops, so client calls do not hop threads.
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

func runCommand() async { await Bench.main() }
await runCommand()
