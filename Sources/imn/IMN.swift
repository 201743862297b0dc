import ArgumentParser
import IMNCore

struct IMN: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imn",
        abstract: "IMN, the Internet Measurement Network.",
        discussion: "One executable for every IMN process. Every command listed here works.",
        version: IMNVersion.current,
        subcommands: [
            AgentCommand.self, DBOSCommand.self, Doctor.self, LoadgenCommand.self, OTLPSinkCommand.self, ServerCommand.self, UpCommand.self,
        ])
}
