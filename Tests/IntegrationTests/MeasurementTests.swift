import Agent
import DBOS
import Foundation
import IMNCore
import IMNTestSupport
import Logging
import NATSClient
import RedisClient
import Server
import Synchronization
import Testing

/// One measurement on many agents, on the real stack: redis-server, nats-server, DBOS, the server
/// and three agents in different places (two in Germany in different ASNs, one in the US). One
/// test at a time: each starts a whole stack, and the machine runs every other suite beside them.
@Suite(
    .serialized,
    .enabled(if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable, "redis-server and nats-server are needed: run scripts/setup"))
struct MeasurementTests {
    static let places: [String: AgentLocation] = [
        "de_telekom": AgentLocation(country: "DE", city: "Berlin", asn: 3320, network: "Deutsche Telekom", tags: ["eyeball", "ipv6"]),
        "de_vodafone": AgentLocation(country: "DE", city: "Düsseldorf", asn: 3209, network: "Vodafone", tags: ["eyeball"]),
        "us_aws": AgentLocation(country: "US", region: "Virginia", asn: 16509, network: "Amazon", tags: ["datacenter", "aws-us-east-1"]),
    ]

    /// The agents that run, each stoppable on its own.
    final class Agents: Sendable {
        let tasks = Mutex<[String: Task<Void, any Error>]>([:])

        func stop(_ id: String) async {
            let task = tasks.withLock { $0.removeValue(forKey: id) }
            task?.cancel()
            _ = await task?.result
        }

        func stopAll() async {
            for id in tasks.withLock({ Array($0.keys) }) { await stop(id) }
        }
    }

    struct World {
        var port: Int
        var agents: Agents
    }

    /// Redis, NATS, DBOS, a server and the three agents; everything stopped after `body`.
    static func withWorld(
        heartbeatTimeout: Duration = .seconds(15), stuckAfter: Duration = .seconds(600), _ body: (World) async throws -> Void
    ) async throws {
        try await withRedisServer { redis in
            try await withNATSServer { nats in
                var dbosConfiguration = DBOSServer.Configuration()
                dbosConfiguration.port = FreePort.next()
                dbosConfiguration.redis = try RedisConfiguration(url: redis.redisURL)
                let dbos = DBOSServer(configuration: dbosConfiguration, logger: Logger(label: "measurements.dbos"))
                let dbosPort = ListeningPort()
                let dbosTask = Task {
                    try await withThrowingDiscardingTaskGroup { group in
                        group.addTask { try await dbos.run() }
                        dbosPort.set(try await dbos.listeningPort())
                    }
                }
                let agents = Agents()
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("imn-measurements-\(UUID().uuidString)")
                defer { try? FileManager.default.removeItem(at: folder) }
                for (id, place) in places {
                    var configuration = AgentConfiguration(name: id, stateDirectory: folder.appendingPathComponent(id))
                    configuration.id = id
                    configuration.targetPolicy = .anything
                    configuration.nats = NATSConfiguration(url: nats.natsURL)
                    configuration.heartbeatInterval = .milliseconds(300)
                    configuration.location = try place.validated()
                    let runtime = try AgentRuntime(configuration: configuration, modules: ModuleHost(BuiltInModules.all()), metrics: AgentMetrics())
                    agents.tasks.withLock { $0[id] = Task { try await runtime.run() } }
                }
                #expect(await eventually { dbosPort.value != 0 })
                var configuration = ServerConfiguration()
                configuration.port = FreePort.next()
                configuration.nats = NATSConfiguration(url: nats.natsURL)
                configuration.dbosAddress = "127.0.0.1:\(dbosPort.value)"
                configuration.serverID = "measurements-server"
                configuration.heartbeatTimeout = heartbeatTimeout
                configuration.stuckAfter = stuckAfter
                let port = ListeningPort()
                let server = IMNServer(configuration: configuration, logger: Logger(label: "measurements.server")) { port.set($0) }
                let serverTask = Task { try await server.run() }
                do {
                    #expect(await eventually(timeout: .seconds(45)) { port.value != 0 })
                    #expect(
                        await eventually(timeout: .seconds(45)) {
                            (try? await HTTP.request("GET", port: port.value, path: "/agents?alive=true"))?.json?.arrayValue?.count == 3
                        })
                    try await body(World(port: port.value, agents: agents))
                } catch {
                    serverTask.cancel()
                    _ = await serverTask.result
                    await agents.stopAll()
                    dbosTask.cancel()
                    _ = await dbosTask.result
                    throw error
                }
                serverTask.cancel()
                _ = await serverTask.result
                await agents.stopAll()
                dbosTask.cancel()
                _ = await dbosTask.result
            }
        }
    }

    static func agentIDs(_ reply: HTTP.Reply) -> [String] {
        (reply.json?["runs"]?.arrayValue ?? []).compactMap { $0["agent_id"]?.stringValue }.sorted()
    }

    static func pointers(_ reply: HTTP.Reply) -> [String] {
        (reply.json?["errors"]?.arrayValue ?? []).compactMap { $0["pointer"]?.stringValue }.sorted()
    }

    @Test func agentsCarryTheirLocationAndAreFiltered() async throws {
        try await Self.withWorld { world in
            func ids(_ query: String) async throws -> [String] {
                let reply = try await HTTP.request("GET", port: world.port, path: "/agents?\(query)")
                #expect(reply.status == 200, "\(query): \(reply.body.prefix(300))")
                return (reply.json?.arrayValue ?? []).compactMap { $0["agent_id"]?.stringValue }.sorted()
            }
            #expect(try await ids("country=DE") == ["de_telekom", "de_vodafone"])
            #expect(try await ids("country=DE&asn=3320") == ["de_telekom"])
            #expect(try await ids("tag=eyeball&alive=true") == ["de_telekom", "de_vodafone"])
            #expect(try await ids("tag=eyeball,ipv6") == ["de_telekom"])
            #expect(try await ids("continent=NA&tag=datacenter") == ["us_aws"])
            #expect(try await ids("network=vodafone") == ["de_vodafone"])
            #expect(try await ids("alive=false") == [])
            #expect(try await ids("module=ping_module").count == 3)
            let one = try await HTTP.request("GET", port: world.port, path: "/agents/de_telekom")
            #expect(one.json?["location"]?["continent"] == "EU", "the continent is worked out from the country")
            #expect(one.json?["location"]?["asn"] == 3320)
            for bad in ["country=XX", "country=de", "asn=0", "asn=many", "tag=Not_A_Tag", "alive=maybe", "continent=MARS"] {
                #expect(try await HTTP.request("GET", port: world.port, path: "/agents?\(bad)").status == 400, "\(bad)")
            }
        }
    }

    @Test func selectsByLocationSpreadsAndSummarises() async throws {
        try await Self.withWorld { world in
            let port = world.port
            // Every German agent.
            let germany = try await HTTP.request(
                "POST", port: port, path: "/measurements?wait=15",
                body: #"{"module":"echo_module","input":{"message":"hi"},"locations":[{"country":"DE"}],"limit":5}"#)
            #expect(germany.status == 200, "\(germany.body.prefix(500))")
            #expect(germany.json?["status"] == "finished")
            #expect(Self.agentIDs(germany) == ["de_telekom", "de_vodafone"])
            #expect(germany.headers.lowercased().contains("location: /measurements/"))
            #expect(germany.json?["summary"]?["completed"] == 2)
            #expect(germany.json?["runs"]?[0]?["result"]?["message"] == "hi")
            #expect(germany.json?["runs"]?[0]?["location"]?["country"] == "DE")

            // An ASN and a tag together; a limit per location spread over two locations.
            let telekom = try await HTTP.request(
                "POST", port: port, path: "/measurements?wait=15",
                body: #"{"module":"echo_module","input":{"message":"x"},"locations":[{"country":"DE","asn":3320,"tags":["eyeball"],"limit":3}]}"#)
            #expect(Self.agentIDs(telekom) == ["de_telekom"])
            let spread = try await HTTP.request(
                "POST", port: port, path: "/measurements?wait=15",
                body: #"{"module":"echo_module","input":{"message":"x"},"locations":[{"country":"DE"},{"tag":"datacenter"}],"limit":2}"#)
            let spreadAgents = Self.agentIDs(spread)
            #expect(spreadAgents.count == 2 && spreadAgents.contains("us_aws"), "one from each location: \(spreadAgents)")
            let capped = try await HTTP.request(
                "POST", port: port, path: "/measurements?wait=15",
                body: #"{"module":"echo_module","input":{"message":"x"},"locations":[{"continent":"EU","limit":1},{"country":"US"}],"limit":3}"#)
            #expect(Self.agentIDs(capped).count == 2, "the EU location gives one agent, the US one the other: \(Self.agentIDs(capped))")

            // Ping from all three: each run's figures, the summary across them, grouped by country.
            let ping = try await HTTP.request(
                "POST", port: port, path: "/measurements?wait=20",
                body:
                    #"{"module":"ping_module","input":{"host":"127.0.0.1","count":3,"interval":0.05},"agents":["us_aws","de_telekom","de_vodafone"]}"#
            )
            #expect(ping.status == 200, "\(ping.body.prefix(500))")
            let runs = ping.json?["runs"]?.arrayValue ?? []
            #expect(runs.count == 3)
            let mins = runs.compactMap { $0["result"]?["min_ms"]?.numberValue }
            let maxes = runs.compactMap { $0["result"]?["max_ms"]?.numberValue }
            let averages = runs.compactMap { $0["result"]?["avg_ms"]?.numberValue }.sorted()
            #expect(mins.count == 3)
            #expect(runs.allSatisfy { $0["stats"]?["loss"] == 0 })
            #expect(runs.first?["stats"]?["min_ms"] == runs.first?["result"]?["min_ms"])
            let rtt = ping.json?["summary"]?["rtt"]
            #expect(rtt?["min_ms"]?.numberValue == mins.min())
            #expect(rtt?["max_ms"]?.numberValue == maxes.max())
            #expect(rtt?["median_ms"]?.numberValue == averages[1])
            #expect(rtt?["loss"] == 0)
            #expect(rtt?["sent"] == 9)
            let id = try #require(ping.json?["id"]?.stringValue)
            let grouped = try await HTTP.request("GET", port: port, path: "/measurements/\(id)?group_by=country")
            let groups = grouped.json?["groups"]?.arrayValue ?? []
            #expect(groups.compactMap { $0["country"]?.stringValue } == ["DE", "US"])
            #expect(groups.first?["runs"] == 2)
            let germanAverages = runs.filter { $0["location"]?["country"] == "DE" }.compactMap { $0["result"]?["avg_ms"]?.numberValue }.sorted()
            #expect(groups.first?["rtt"]?["median_ms"]?.numberValue == MeasurementSummaryCheck.median(germanAverages))
            let byTag = try await HTTP.request("GET", port: port, path: "/measurements/\(id)?group_by=tag")
            #expect(byTag.json?["groups"]?.arrayValue?.first { $0["tag"] == "eyeball" }?["runs"] == 2)
            #expect(try await HTTP.request("GET", port: port, path: "/measurements/\(id)?group_by=planet").status == 400)

            // Listed, and the unknown is not found.
            let list = try await HTTP.request("GET", port: port, path: "/measurements?limit=100")
            #expect(list.json?["measurements"]?.arrayValue?.count == 5)
            #expect(try await HTTP.request("GET", port: port, path: "/measurements/nothing-here").status == 404)
        }
    }

    @Test func badSelectionsAreRefusedAndNothingIsDispatched() async throws {
        try await Self.withWorld { world in
            let port = world.port
            func refused(_ body: String) async throws -> [String] {
                let reply = try await HTTP.request("POST", port: port, path: "/measurements", body: body)
                #expect(reply.status == 422, "\(body): \(reply.status) \(reply.body.prefix(300))")
                #expect(reply.headers.lowercased().contains("application/problem+json"))
                return Self.pointers(reply)
            }
            #expect(try await refused(#"{"module":"echo_module","input":{"message":"x"},"locations":[{"country":"FR"}]}"#) == ["/locations/0"])
            #expect(
                try await refused(#"{"module":"echo_module","input":{"message":"x"},"locations":[{"country":"DE"},{"asn":1}]}"#) == ["/locations/1"])
            #expect(
                try await refused(#"{"module":"echo_module","input":{"message":"x"},"locations":[{"planet":"mars"}]}"#) == ["/locations/0/planet"])
            #expect(try await refused(#"{"module":"echo_module","input":{"message":"x"},"locations":[{"country":"DE"}],"limit":0}"#) == ["/limit"])
            #expect(try await refused(#"{"module":"echo_module","input":{"message":"x"},"locations":[{"country":"DE"}],"limit":1001}"#) == ["/limit"])
            #expect(
                try await refused(#"{"module":"echo_module","input":{"message":"x"},"locations":[{"country":"DE","limit":-1}]}"#) == [
                    "/locations/0/limit"
                ])
            #expect(try await refused(#"{"module":"echo_module","input":{"message":"x"},"locations":[]}"#) == ["/locations"])
            #expect(try await refused(#"{"module":"echo_module","input":{"message":"x"},"agents":[]}"#) == ["/agents"])
            #expect(try await refused(#"{"module":"echo_module","input":{"message":"x"}}"#) == ["/"])
            #expect(try await refused(#"{"module":"echo_module","input":{"message":"x"},"agents":["nobody","us_aws"]}"#) == ["/agents/0"])
            #expect(try await refused(#"{"module":"no_module","locations":[{"country":"DE"}]}"#) == ["/locations/0"])
            #expect(try await refused(#"{"module":"ping_module","input":{"host":5},"locations":[{"country":"DE"}]}"#) == ["/input/host"])
            #expect(try await refused(#"{"input":{},"agents":["us_aws"],"colour":"red"}"#) == ["/colour", "/module"])
            #expect(try await HTTP.request("POST", port: port, path: "/measurements", body: "{nope").status == 400)
            let list = try await HTTP.request("GET", port: port, path: "/measurements")
            #expect(list.json?["measurements"]?.arrayValue?.count == 0, "nothing was created: \(list.body.prefix(300))")
            let states = try await HTTP.request("GET", port: port, path: "/modules/states")
            #expect(states.json?["states"]?.arrayValue?.count == 0, "nothing was dispatched")
        }
    }

    @Test func idempotentRetryAndRerunWithAnAgentGone() async throws {
        try await Self.withWorld(heartbeatTimeout: .seconds(2)) { world in
            let port = world.port
            let body = #"{"module":"echo_module","input":{"message":"once"},"locations":[{"tag":"eyeball"},{"tag":"datacenter"}],"limit":3}"#
            let first = try await HTTP.request("POST", port: port, path: "/measurements?wait=15", body: body, headers: ["Idempotency-Key": "world-1"])
            let second = try await HTTP.request(
                "POST", port: port, path: "/measurements?wait=15", body: body, headers: ["Idempotency-Key": "world-1"])
            #expect(first.json?["id"] == "world-1")
            #expect(second.json?["id"] == "world-1")
            #expect(Self.agentIDs(first) == ["de_telekom", "de_vodafone", "us_aws"])
            #expect(Self.agentIDs(second) == Self.agentIDs(first))
            let receivedFirst = (first.json?["runs"]?.arrayValue ?? []).map { $0["request_id"] }
            #expect(receivedFirst.contains(.string("world-1~us_aws")))
            // Each agent ran it once: one stored transition history each.
            let state = try await HTTP.request("GET", port: port, path: "/modules/states/world-1~us_aws")
            #expect(state.json?["history"]?.arrayValue?.compactMap { $0["to"]?.stringValue } == ["created", "started", "running", "completed"])

            // Without wait: 202 with the runs; the live stream follows it by id, and only it.
            let stream = try await SSEReader(port: port, path: "/live/events?kind=result&measurement=world-2")
            defer { stream.disconnect() }
            _ = try await HTTP.request("POST", port: port, path: "/agent/us_aws/echo_module?wait=10", body: #"{"message":"not this"}"#)
            let accepted = try await HTTP.request(
                "POST", port: port, path: "/measurements",
                body: #"{"module":"echo_module","input":{"message":"later"},"agents":["us_aws","de_telekom"]}"#,
                headers: ["Idempotency-Key": "world-2"])
            #expect(accepted.status == 202)
            #expect(accepted.json?["runs"]?[0]?["request_id"] != nil)
            var followed: [String] = []
            for _ in 0..<2 {
                let event = try await stream.nextEvent(timeout: .seconds(15))
                #expect(event?["measurement_id"] == "world-2")
                #expect(event?["output"]?["message"] == "later")
                followed.append(event?["agent_id"]?.stringValue ?? "")
            }
            #expect(followed.sorted() == ["de_telekom", "us_aws"])

            // One agent stops; the re-run reports it offline and runs on the others.
            await world.agents.stop("de_vodafone")
            #expect(
                await eventually(timeout: .seconds(10)) {
                    (try? await HTTP.request("GET", port: port, path: "/agents?alive=false"))?.json?.arrayValue?.count == 1
                })
            let rerun = try await HTTP.request("POST", port: port, path: "/measurements?wait=15", body: #"{"measurement":"world-1"}"#)
            #expect(rerun.status == 200, "\(rerun.body.prefix(500))")
            #expect(rerun.json?["rerun_of"] == "world-1")
            let states = Dictionary(
                (rerun.json?["runs"]?.arrayValue ?? []).map { ($0["agent_id"]?.stringValue ?? "", $0["state"]?.stringValue ?? "") },
                uniquingKeysWith: { $1 })
            #expect(states == ["de_telekom": "completed", "us_aws": "completed", "de_vodafone": "offline"])
            #expect(rerun.json?["summary"]?["offline"] == 1)
            #expect(rerun.json?["runs"]?.arrayValue?.first { $0["agent_id"] == "de_telekom" }?["result"]?["message"] == "once")
            #expect(try await HTTP.request("POST", port: port, path: "/measurements", body: #"{"measurement":"never-made"}"#).status == 404)
        }
    }

    /// A schedule by location chooses its agents at each run; each run is a measurement.
    @Test func schedulesSelectByLocationAtEachRun() async throws {
        try await Self.withWorld { world in
            let port = world.port
            let created = try await HTTP.request(
                "POST", port: port, path: "/schedules",
                body:
                    #"{"id":"eyeballs","module":"echo_module","input":{"message":"tick"},"locations":[{"tags":["eyeball"]}],"limit":5,"interval_seconds":1}"#
            )
            #expect(created.status == 201, "\(created.body.prefix(300))")
            #expect(created.json?["selection"]?["limit"] == 5)
            var listed: [JSONValue] = []
            #expect(
                await eventually(timeout: .seconds(20)) {
                    listed = (try? await HTTP.request("GET", port: port, path: "/measurements?limit=100"))?.json?["measurements"]?.arrayValue ?? []
                    return listed.filter { $0["id"]?.stringValue?.hasPrefix("sch_eyeballs-") == true }.count >= 2
                })
            let first = try #require(listed.first { $0["id"]?.stringValue?.hasPrefix("sch_eyeballs-") == true }?["id"]?.stringValue)
            let run = try await HTTP.request("GET", port: port, path: "/measurements/\(first)?wait=10")
            #expect(Self.agentIDs(run) == ["de_telekom", "de_vodafone"])
            #expect(run.json?["summary"]?["completed"] == 2)
            #expect(try await HTTP.request("DELETE", port: port, path: "/schedules/sch_eyeballs").status == 204)
            let nowhere = try await HTTP.request(
                "POST", port: port, path: "/schedules",
                body: #"{"module":"echo_module","input":{"message":"x"},"locations":[{"country":"FR"}],"interval_seconds":5}"#)
            #expect(nowhere.status == 422)
            #expect(Self.pointers(nowhere) == ["/locations/0"])
        }
    }

    @Test func anAgentThatDiesMidMeasurementFailsByItsDeadline() async throws {
        try await Self.withWorld(stuckAfter: .seconds(4)) { world in
            let port = world.port
            let accepted = try await HTTP.request(
                "POST", port: port, path: "/measurements",
                body: #"{"module":"faulty_module","input":{"delay":1.5},"agents":["de_telekom","us_aws"]}"#, headers: ["Idempotency-Key": "dies"])
            #expect(accepted.status == 202, "\(accepted.body.prefix(300))")
            try await Task.sleep(for: .milliseconds(300))
            await world.agents.stop("us_aws")
            let finished = try await HTTP.request("GET", port: port, path: "/measurements/dies?wait=20")
            #expect(finished.json?["status"] == "finished", "\(finished.body.prefix(600))")
            let states = Dictionary(
                (finished.json?["runs"]?.arrayValue ?? []).map { ($0["agent_id"]?.stringValue ?? "", $0["state"]?.stringValue ?? "") },
                uniquingKeysWith: { $1 })
            #expect(states["de_telekom"] == "completed")
            #expect(states["us_aws"] == "failed")
            #expect(
                finished.json?["runs"]?.arrayValue?.first { $0["agent_id"] == "us_aws" }?["error"]?.stringValue?.contains("no result within") == true)
        }
    }
}

enum MeasurementSummaryCheck {
    static func median(_ sorted: [Double]) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
