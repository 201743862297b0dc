import ArgumentParser
import IMNCore

struct IMN: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imn",
        abstract: "IMN, the Internet Measurement Network.",
        discussion: """
            One executable for every IMN process, and the client of a running server. Every command listed \
            here works; `imn help <command>` shows its examples.

            Client commands talk to the server at --server or $IMN_SERVER (default http://localhost:8000) \
            with --token or $IMN_TOKEN, print tables (--json for the server's JSON) and exit with: \
            0 all runs completed, 1 some runs failed, 2 usage, 3 server unreachable, 4 refused by the server, \
            5 --wait passed with runs in flight.
            """,
        version: IMNVersion.current,
        groupedSubcommands: [
            CommandGroup(
                name: "Measure (client of a running server)",
                subcommands: [
                    PingCommand.self, TCPingCommand.self, TracerouteCommand.self, MTRCommand.self, DNSCommand.self, HTTPCommand.self,
                    EchoCommand.self, RunCommand.self, ResultCommand.self, MeasurementsCommand.self, AgentsCommand.self, WatchCommand.self,
                    SchedulesCommand.self,
                ]),
            CommandGroup(
                name: "Run IMN's processes",
                subcommands: [
                    UpCommand.self, ServerCommand.self, DBOSCommand.self, AgentCommand.self, Doctor.self, LoadgenCommand.self, OTLPSinkCommand.self,
                ]),
        ])
}
