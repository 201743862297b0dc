import ArgumentParser
import CommandLineSupport

/// `imn agent`: a measurement agent (the same as the `imn-agent` executable).
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: AgentOptions.abstract, discussion: AgentOptions.discussion)

    @OptionGroup var options: AgentOptions

    func run() async throws { try await options.run() }
}
