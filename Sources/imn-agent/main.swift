import ArgumentParser
import CommandLineSupport
import IMNCore
import NIOCore
import NIOPosix

/// `imn-agent`: `imn agent` on its own. It links only the agent's code and FoundationEssentials
/// (no server, gRPC or DBOS code, no full Foundation or ICU), so an idle agent uses less memory.
struct IMNAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imn-agent", abstract: AgentOptions.abstract, discussion: AgentOptions.discussion, version: IMNVersion.current)

    @OptionGroup var options: AgentOptions

    func run() async throws { try await options.run() }
}

// As in `imn`: Swift tasks run on NIO's event-loop threads.
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

func runCommand() async { await IMNAgent.main() }
await runCommand()
