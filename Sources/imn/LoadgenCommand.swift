import ArgumentParser
import CommandLineSupport
import Foundation
import IMNCore
import Logging
import NATSClient
import Synchronization

/// `imn loadgen`: simulated agents that publish real heartbeats (and, if asked, results) on NATS,
/// for benchmarks and for sizing a deployment.
struct LoadgenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadgen",
        abstract: "Simulate many agents: real heartbeats (and optionally results) on NATS.",
        discussion: """
            Agents loadgen-00000, loadgen-00001, … each send a heartbeat --rate times a second (spread evenly over \
            each second) on imn.hb.<agent>, advertising echo_module. With --results-per-second, completed \
            echo_module results go to imn.res.<agent>.echo_module, which the server ingests into DBOS like real ones. \
            With --answer, commands for echo_module on imn.cmd.<agent>.echo_module are answered like an agent \
            (accepted, then the completed result with the message echoed), so measurements over thousands of \
            agents can be measured. Each agent has a location (ten countries in turn, ASN 64512 + its index \
            modulo 1000, tag loadgen). Prints what it sent every --report seconds; runs until --duration ends or \
            Ctrl-C. The NATS user needs to publish on imn.hb.> (and imn.res.>, and subscribe to imn.cmd.> with \
            --answer): an open nats-server, or the server user — against `imn up`, \
            nats://server:<password>@127.0.0.1:4222 with the password from .imn/nats-credentials.json.
            """)

    @Option(help: "Simulated agents.") var agents = 1000
    @Option(help: "Heartbeats per agent per second.") var rate = 1.0
    @Option(help: "Completed results per second, over all agents (0: none).") var resultsPerSecond = 0.0
    @Option(help: "NATS, nats://[user:password@]host:port (env: IMN_NATS_URL; default nats://127.0.0.1:4222).") var natsURL: String?
    @Option(help: "Stop after this many seconds (0: run until interrupted).") var duration = 0.0
    @Option(help: "Seconds between progress lines.") var report = 5.0
    @Option(help: "Prefix of the simulated agents' ids.") var prefix = "loadgen"
    @Flag(help: "Answer echo_module commands like an agent: accepted, then the completed result.") var answer = false

    func validate() throws {
        guard (1...1_000_000).contains(agents) else { throw ValidationError("--agents must be between 1 and 1,000,000") }
        guard rate > 0, rate <= 100 else { throw ValidationError("--rate must be above 0 and at most 100 heartbeats a second") }
        guard resultsPerSecond >= 0, resultsPerSecond <= 1_000_000 else { throw ValidationError("--results-per-second must be 0–1,000,000") }
        guard duration >= 0, report > 0 else { throw ValidationError("--duration must be ≥ 0 and --report above 0") }
        guard Subjects.isValidToken(prefix) else { throw ValidationError("--prefix must be a NATS subject token") }
    }

    func run() async throws {
        var configuration = NATSConfiguration(url: natsURL ?? EnvironmentSettings().natsURL ?? NATSConfiguration.localURL)
        configuration.name = "imn-loadgen"
        configuration.publishImmediately = false  // batched writes: hundreds of thousands of messages a second
        let connection = try await NATSConnection.connect(configuration, logger: Logger(label: "imn.loadgen"))
        print("loadgen: \(agents) agents × \(rate) heartbeats/s, \(resultsPerSecond) results/s to \(configuration.redactedURLs)")
        let generator = LoadGenerator(prefix: prefix, agents: agents)
        let answering = try answer ? CommandAnswerer(prefix: prefix, started: generator.started).start(connection) : nil
        defer { answering?.cancel() }
        let started = ContinuousClock.now
        let end = duration > 0 ? started + .milliseconds(Int64(duration * 1000)) : nil
        let tick = Duration.milliseconds(10)
        var heartbeatsDue = 0.0
        var resultsDue = 0.0
        var (heartbeats, results, errors) = (0, 0, 0)
        var reported = (at: started, heartbeats: 0, results: 0)
        var next = started
        while !Task.isCancelled, end.map({ ContinuousClock.now < $0 }) ?? true {
            next += tick
            heartbeatsDue += Double(agents) * rate / 100
            resultsDue += resultsPerSecond / 100
            while heartbeatsDue >= 1 {
                do { try generator.sendHeartbeat(connection) } catch { errors += 1 }
                heartbeatsDue -= 1
                heartbeats += 1
            }
            while resultsDue >= 1 {
                do { try generator.sendResult(connection) } catch { errors += 1 }
                resultsDue -= 1
                results += 1
            }
            let now = ContinuousClock.now
            if now - reported.at >= .milliseconds(Int64(report * 1000)) {
                let seconds = (now - reported.at) / .seconds(1)
                print(
                    "loadgen: \(Int(Double(heartbeats - reported.heartbeats) / seconds)) heartbeats/s, "
                        + "\(Int(Double(results - reported.results) / seconds)) results/s, \(heartbeats) heartbeats and \(results) results in all, "
                        + "\(errors) errors, NATS \(connection.state)")
                reported = (now, heartbeats, results)
            }
            if next > now { try? await Task.sleep(until: next) } else { next = now }
        }
        try? await connection.flush(timeout: .seconds(5))
        await connection.close()
        let answered = answering == nil ? "" : ", \(CommandAnswerer.answered.withLock { $0 }) commands answered"
        print("loadgen: done, \(heartbeats) heartbeats and \(results) results sent\(answered), \(errors) errors")
    }
}

/// The simulated agents: each heartbeat goes to the next agent in turn, so every agent is heard
/// `rate` times a second.
final class LoadGenerator {
    let ids: [String]
    let started = Date.nowMilliseconds
    private let encoder = JSONEncoder()
    private var nextAgent = 0
    private var sequences: [Int64]
    private var resultCount = 0
    static let echo = ModuleSpec(
        name: "echo_module", version: "1.0.0", description: "Echoes a message back (simulated).",
        inputSchema: ["type": "object", "properties": ["message": ["type": "string"]], "required": ["message"]],
        outputDescription: "{message}")

    static let countries = ["DE", "US", "JP", "BR", "FR", "AU", "ZA", "IN", "GB", "CA"]

    /// Made-up places: the countries in turn, ASN 64512 + index modulo 1000, the tag `loadgen`.
    static func location(_ index: Int) -> AgentLocation {
        (try? AgentLocation(country: countries[index % countries.count], asn: 64512 + Int64(index % 1000), tags: ["loadgen"]).validated())
            ?? AgentLocation()
    }

    init(prefix: String, agents: Int) {
        ids = (0..<agents).map { "\(prefix)-" + String(repeating: "0", count: max(0, 5 - String($0).count)) + String($0) }
        sequences = Array(repeating: 0, count: agents)
    }

    func sendHeartbeat(_ connection: NATSConnection) throws {
        let index = nextAgent
        nextAgent = (nextAgent + 1) % ids.count
        sequences[index] += 1
        let heartbeat = Heartbeat(
            agentID: ids[index], name: ids[index], hostname: "loadgen", version: IMNVersion.current, startedAtMilliseconds: started,
            sentAtMilliseconds: Date.nowMilliseconds, sequence: sequences[index], modules: [Self.echo], location: Self.location(index))
        try connection.publish(Subjects.heartbeat(agent: ids[index]), payload: Array(try encoder.encode(heartbeat)))
    }

    func sendResult(_ connection: NATSConnection) throws {
        let agent = ids[resultCount % ids.count]
        resultCount += 1
        let now = Date.nowMilliseconds
        var result = ResultMessage(
            requestID: "\(agent)-\(started)-\(resultCount)", agentID: agent, module: "echo_module", moduleVersion: "1.0.0", state: "completed",
            atMilliseconds: now, agentStartedAtMilliseconds: started, agentVersion: IMNVersion.current)
        (result.startedAtMilliseconds, result.finishedAtMilliseconds, result.output) = (now, now, ["message": "loadgen"])
        var headers = NATSHeaders()
        headers["Nats-Msg-Id"] = result.messageID
        try connection.publish(Subjects.result(agent: agent, module: "echo_module"), payload: Array(try encoder.encode(result)), headers: headers)
    }
}

/// Answers echo_module commands for the simulated agents, as a real agent would: `accepted`, then
/// the completed result (the message echoed) on the agent's results subject.
struct CommandAnswerer: Sendable {
    let prefix: String
    let started: Int64
    static let answered = Mutex(0)

    func start(_ connection: NATSConnection) throws -> Task<Void, Never> {
        let commands = try connection.subscribe(to: "imn.cmd.*.echo_module")
        return Task {
            let encoder = JSONEncoder()
            for await message in commands {
                let parts = message.subject.split(separator: ".")
                guard parts.count == 4, parts[2].hasPrefix(prefix), let reply = message.replyTo,
                    let command = try? JSONDecoder().decode(CommandRequest.self, from: Data(message.payload))
                else { continue }
                let agent = String(parts[2])
                let now = Date.nowMilliseconds
                var result = ResultMessage(
                    requestID: command.requestID, agentID: agent, module: "echo_module", moduleVersion: "1.0.0", state: "completed",
                    atMilliseconds: now, agentStartedAtMilliseconds: started, agentVersion: IMNVersion.current)
                (result.startedAtMilliseconds, result.finishedAtMilliseconds) = (now, now)
                result.output = ["message": command.input["message"] ?? .null]
                var headers = NATSHeaders()
                headers["Nats-Msg-Id"] = result.messageID
                do {
                    try connection.publish(reply, payload: Array(try encoder.encode(CommandReply(status: .accepted, agentID: agent))))
                    try connection.publish(
                        Subjects.result(agent: agent, module: "echo_module"), payload: Array(try encoder.encode(result)), headers: headers)
                    Self.answered.withLock { $0 += 1 }
                } catch {
                    continue
                }
            }
        }
    }
}
