import ArgumentParser
import Client
import IMNCore

/// Who runs a measurement and how long to wait for it: the options `imn run` and every probe
/// shorthand share.
struct RunOptions: ParsableArguments {
    @Option(name: .customLong("agent"), help: "Run on this agent (repeat for more).") var agents: [String] = []
    @Option(
        name: .customLong("from"),
        help: ArgumentHelp(
            "Run on agents chosen by location: locations separated by commas, terms joined by +.",
            discussion: "A term is key=value (continent, country, region, city, asn, network, tag, limit), AS<number>, a country code, "
                + "a continent (EU, europe, ...) or a tag: --from DE,US is one agent in each; --from DE+eyeball+limit=3 three."))
    var from: [String] = []
    @Option(help: "At most this many agents in all (with --from, or neither: one agent anywhere by default).") var limit: Int?
    @Option(help: "Run again on the agents of this earlier measurement.") var again: String?
    @Option(help: "Seconds to wait for every run to end (progress on a terminal).") var wait: Double = 60
    @Flag(help: "Answer as soon as the measurement is accepted, with its id.") var noWait = false

    func validate() throws {
        let given = [!agents.isEmpty, !from.isEmpty, again != nil].filter { $0 }.count
        guard given <= 1 else { throw ValidationError("give one of --agent, --from or --again") }
        if let limit, !(1...1000).contains(limit) { throw ValidationError("--limit is 1 to 1000") }
        if limit != nil, !agents.isEmpty || again != nil { throw ValidationError("--limit goes with --from (or no selection)") }
        guard wait > 0, wait <= 3600 else { throw ValidationError("--wait is more than 0 and at most 3600 seconds") }
    }

    /// The `agents`, `locations` + `limit` or `measurement` fields of the request.
    static func selection(agents: [String], from: [String], limit: Int?, again: String?) throws(ClientError) -> [String: JSONValue] {
        if !agents.isEmpty { return ["agents": .array(agents.map(JSONValue.string))] }
        if let again { return ["measurement": .string(again)] }
        var fields: [String: JSONValue] = ["locations": from.isEmpty ? [[:]] : .array(try SelectionArgument.locations(from))]
        if let limit { fields["limit"] = .number(Double(limit)) }
        return fields
    }
}

extension RunOptions {
    /// Runs `module` with `words` (key=value) plus `fixed` input fields, prints the outcome.
    func measure(module: String, words: [String], fixed: [String: JSONValue] = [:], options: ClientOptions) throws {
        try runClient { () throws(ClientError) in
            let client = try options.client()
            let schema = again == nil ? try Self.inputSchema(module, agent: agents.first, client: client) : nil
            guard case .object(var input) = try InputArguments.parse(words, schema: schema) else { return ("", .usage) }
            for (key, value) in fixed where input[key] == nil { input[key] = value }
            var body = try Self.selection(agents: agents, from: from, limit: limit, again: again)
            body["module"] = .string(module)
            body["input"] = .object(input)
            let progress = ProgressLine(enabled: options.style.progress)
            let measurement = try MeasurementRunner(client: client).run(
                .object(body), wait: noWait ? nil : .milliseconds(Int64(wait * 1000)), progress: progress.show)
            progress.clear()
            var output = options.json ? measurement.text : MeasurementView.render(measurement, style: options.style)
            if noWait, !options.json, let id = measurement["id"]?.stringValue { output += "\nfollow it: imn result \(id) --wait 60" }
            return (output, noWait ? .ok : MeasurementView.exitStatus(measurement))
        }
    }

    /// The module's input schema from an agent that would run it (nil when none says).
    static func inputSchema(_ module: String, agent: String?, client: APIClient) throws(ClientError) -> JSONValue? {
        let agents: [JSONValue]
        if let agent {
            agents = [try client.get("/agents/\(agent)").json].compactMap { $0 }
        } else {
            agents = try client.get("/agents", query: [("module", module), ("alive", "true")]).json?.arrayValue ?? []
        }
        for agent in agents {
            if let spec = agent["modules"]?.arrayValue?.first(where: { $0["name"]?.stringValue == module }) { return spec["input_schema"] }
        }
        return nil
    }
}

/// `imn run MODULE key=value…`: any module an agent advertises.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a module on one or many agents and print each run's result.",
        discussion: """
            The input is key=value words, typed by the module's input schema (key:=JSON for a JSON value). \
            By default one agent anywhere runs it and the command waits (up to --wait) for the result.

            Examples:
              imn run ping_module host=127.0.0.1 count=5 --from DE,US
              imn run http url=https://example.com method=HEAD --agent agent_1
              imn run dns name=example.com type=AAAA --from datacenter+limit=3 --json
              imn run echo_module message=hi --again m-1234…

            \(ClientExitStatus.help)
            """)

    @Argument(help: "The module, e.g. ping_module, tcping, traceroute, mtr, dns, http, echo_module.") var module: String
    @Argument(help: "The module's input as key=value words.") var input: [String] = []
    @OptionGroup var who: RunOptions
    @OptionGroup var options: ClientOptions

    func run() throws { try who.measure(module: module, words: input, options: options) }
}
