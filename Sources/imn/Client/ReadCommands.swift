import ArgumentParser
import Client
import IMNCore

/// `imn agents`: the agents the server knows, filtered as `GET /agents` filters.
struct AgentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents", abstract: "List agents: where they are, alive or not, what they run.",
        discussion: """
            Examples:
              imn agents
              imn agents --country DE --tag eyeball
              imn agents --module traceroute --alive --json
            """ + "\n\n" + ClientExitStatus.help)
    @Option(help: "Continent code (EU, NA, ...).") var continent: String?
    @Option(help: "ISO 3166-1 alpha-2 country code.") var country: String?
    @Option(help: "Region.") var region: String?
    @Option(help: "City.") var city: String?
    @Option(help: "AS number.") var asn: Int64?
    @Option(help: "Operator name.") var network: String?
    @Option(help: "Carries this tag (repeat for more: all must match).") var tag: [String] = []
    @Option(help: "Advertises this module.") var module: String?
    @Flag(help: "Only alive agents.") var alive = false
    @Flag(help: "Only agents not heard from.") var dead = false
    @OptionGroup var options: ClientOptions

    func run() throws {
        var query: [(String, String)] = []
        for (name, value) in [("continent", continent), ("country", country), ("region", region), ("city", city), ("network", network)] {
            if let value { query.append((name, value)) }
        }
        if let asn { query.append(("asn", String(asn))) }
        if !tag.isEmpty { query.append(("tag", tag.joined(separator: ","))) }
        if let module { query.append(("module", module)) }
        if alive || dead { query.append(("alive", alive ? "true" : "false")) }
        try options.show("/agents", query: query, render: ListViews.agents)
    }
}

/// `imn result ID`: a measurement, or a single run by its request id.
struct ResultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "result", abstract: "Show a measurement (or one run by its request id): each run's state and result.",
        discussion: """
            Examples:
              imn result m-2b1c…
              imn result m-2b1c… --wait 30      (follow it until every run ended)
              imn result 6f0e…-request-id --json
            """ + "\n\n" + ClientExitStatus.help)
    @Argument(help: "A measurement id (m-…) or a run's request id.") var id: String
    @Option(help: "Follow the measurement up to this many seconds while runs are in flight.") var wait: Double = 0
    @OptionGroup var options: ClientOptions

    func validate() throws {
        guard (0...3600).contains(wait) else { throw ValidationError("--wait is 0 to 3600 seconds") }
    }

    func run() throws {
        try runClient { () throws(ClientError) in
            let client = try options.client()
            var measurement: JSONValue
            do throws(ClientError) {
                guard let found = try client.get("/measurements/\(id)").json else {
                    throw .badAnswer("GET /measurements/\(id) is not JSON")
                }
                measurement = found
            } catch .refused(let problem) where problem.status == 404 {
                measurement = try singleRun(client)
            }
            if wait > 0, measurement["status"]?.stringValue == "in-progress" {
                let progress = ProgressLine(enabled: options.style.progress)
                measurement = try MeasurementRunner(client: client).follow(
                    id, first: measurement, wait: .milliseconds(Int64(wait * 1000)), progress: progress.show)
                progress.clear()
            }
            let output = options.json ? measurement.text : MeasurementView.render(measurement, style: options.style)
            return (output, MeasurementView.exitStatus(measurement))
        }
    }

    /// A run started by `POST /agent/{agent}/{module}`: its state, then its result, shaped as a
    /// measurement of one run.
    func singleRun(_ client: APIClient) throws(ClientError) -> JSONValue {
        guard let state = try client.get("/modules/states/\(id)").json, let agent = state["agent_id"]?.stringValue else {
            throw .badAnswer("GET /modules/states/\(id) has no agent")
        }
        let name = state["state"]?.stringValue ?? "?"
        var run: [String: JSONValue] = ["agent_id": .string(agent), "request_id": .string(id), "state": .string(name)]
        if ["completed", "error"].contains(name), let stored = try? client.get("/agents/\(agent)/results/\(id)").json {
            run["result"] = stored["result"] ?? stored["output"] ?? .null
            run["error"] = stored["error"] ?? .null
        }
        if name != "completed", let detail = state["detail"], detail != .null { run["error"] = detail }
        if let location = try? client.get("/agents/\(agent)").json?["location"] { run["location"] = location }
        let terminal = ["completed", "error", "failed", "offline"].contains(name)
        return [
            "id": .string(id), "module": state["module"] ?? .null, "status": .string(terminal ? "finished" : "in-progress"),
            "runs": [.object(run)],
        ]
    }
}

/// `imn measurements`: the measurements stored, a page at a time.
struct MeasurementsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "measurements", abstract: "List measurements, oldest first, a page at a time.",
        discussion: "Examples:\n  imn measurements --limit 20\n  imn measurements --cursor <the cursor the last page printed>")
    @Option(help: "Measurements per page (1–1000).") var limit = 50
    @Option(help: "Where the previous page ended.") var cursor: String?
    @OptionGroup var options: ClientOptions

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit is 1 to 1000") }
    }

    func run() throws {
        var query = [("limit", String(limit))]
        if let cursor { query.append(("cursor", cursor)) }
        try options.show("/measurements", query: query, render: ListViews.measurements)
    }
}
