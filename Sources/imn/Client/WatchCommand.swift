import ArgumentParser
import Client
import Foundation
import IMNCore

/// `imn watch`: the live stream (`/live/events`), a line per event.
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", abstract: "Follow the live stream: state changes and results as they happen, a line each.",
        discussion: """
            Runs until interrupted (Ctrl-C), --count events have come or --for seconds have passed.

            Examples:
              imn watch
              imn watch --kind result --module ping_module
              imn watch --measurement m-2b1c… --json | jq .output
            """ + "\n\n" + ClientExitStatus.help)
    @Option(help: "Only these kinds: state, result, agent, heartbeats (repeat for more; default state and result).") var kind: [String] = []
    @Option(help: "Only this agent (repeat for more).") var agent: [String] = []
    @Option(help: "Only this module (repeat for more).") var module: [String] = []
    @Option(help: "Only the runs of this measurement (repeat for more).") var measurement: [String] = []
    @Option(help: "Stop after this many events.") var count: Int?
    @Option(name: .customLong("for"), help: "Stop after this many seconds.") var seconds: Double?
    @OptionGroup var options: ClientOptions

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count is at least 1") }
        if let seconds, !(seconds > 0) { throw ValidationError("--for is a number of seconds above 0") }
    }

    func run() throws {
        var query = [("kind", (kind.isEmpty ? ["state", "result"] : kind).joined(separator: ","))]
        for (name, values) in [("agent", agent), ("module", module), ("measurement", measurement)] where !values.isEmpty {
            query.append((name, values.joined(separator: ",")))
        }
        let json = options.json
        let style = options.style
        let limit = count
        try runClient { () throws(ClientError) in
            var seen = 0
            let duration = seconds.map { Duration.milliseconds(Int64($0 * 1000)) }
            try options.client().stream("/live/events", query: query, duration: duration) { data in
                guard let event = JSONValue(parsing: Array(data.utf8)) else { return true }
                FileHandle.standardOutput.write(Data(((json ? event.text : ListViews.event(event, style: style)) + "\n").utf8))
                seen += 1
                return limit.map { seen < $0 } ?? true
            }
            return ("", .ok)
        }
    }
}

/// `imn schedules list|add|rm`: recurring measurements.
struct SchedulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules", abstract: "List, add and remove recurring measurements.",
        subcommands: [List.self, Add.self, Remove.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List schedules.")
        @Option(help: "Schedules per page (1–1000).") var limit = 100
        @Option(help: "Where the previous page ended.") var cursor: String?
        @OptionGroup var options: ClientOptions

        func run() throws {
            var query = [("limit", String(limit))]
            if let cursor { query.append(("cursor", cursor)) }
            try options.show("/schedules", query: query, render: ListViews.schedules)
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Run a module again and again: every N seconds or on a cron expression.",
            discussion: """
                With --from the agents are chosen again at each run.

                Examples:
                  imn schedules add ping_module host=1.1.1.1 count=3 --every 60 --agent agent_1
                  imn schedules add http url=https://example.com --cron '*/5 * * * *' --from DE,US
                """)
        @Argument(help: "The module.") var module: String
        @Argument(help: "The module's input as key=value words.") var input: [String] = []
        @Option(help: "Seconds between runs.") var every: Double?
        @Option(help: "A five-field cron expression (UTC), instead of --every.") var cron: String?
        @Option(name: .customLong("agent"), help: "Run on this agent (repeat for more).") var agents: [String] = []
        @Option(name: .customLong("from"), help: "Choose agents by location at each run (as imn run --from).") var from: [String] = []
        @Option(help: "At most this many agents per run (with --from).") var limit: Int?
        @Option(help: "A schedule id of your own (sch_…); the server makes one otherwise.") var id: String?
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard (every == nil) != (cron == nil) else { throw ValidationError("give --every or --cron") }
            guard agents.isEmpty != from.isEmpty else { throw ValidationError("give --agent or --from") }
        }

        func run() throws {
            try runClient { () throws(ClientError) in
                let client = try options.client()
                let schema = try RunOptions.inputSchema(module, agent: agents.first, client: client)
                var body = try RunOptions.selection(agents: agents, from: from, limit: limit, again: nil)
                body["module"] = .string(module)
                body["input"] = try InputArguments.parse(input, schema: schema)
                if let every { body["interval_seconds"] = .number(every) }
                if let cron { body["cron"] = .string(cron) }
                if let id { body["id"] = .string(id) }
                let answer = try client.post("/schedules", json: .object(body))
                guard let schedule = answer.json else { throw .badAnswer("POST /schedules is not JSON") }
                return (options.json ? answer.text : ListViews.schedules(["schedules": [schedule]], style: options.style), .ok)
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a schedule (runs already made stay).")
        @Argument(help: "The schedule's id (sch_…).") var id: String
        @OptionGroup var options: ClientOptions

        func run() throws {
            try runClient { () throws(ClientError) in
                let answer = try options.client().delete("/schedules/\(id)")
                return (options.json ? answer.text : "removed \(id)", .ok)
            }
        }
    }
}
