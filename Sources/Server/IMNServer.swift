import DBOS
import Foundation
import Hummingbird
import IMNCore
import Logging
import NATSClient
import ServiceLifecycle

/// `imn server`: the REST API, the agent registry fed by heartbeats (and kept in DBOS), and
/// result ingestion from JetStream into DBOS.
public final class IMNServer: Service {
    public let configuration: ServerConfiguration
    let logger: Logger
    let registry: AgentRegistry
    private let onListening: @Sendable (Int) async -> Void

    public init(
        configuration: ServerConfiguration, logger: Logger = Logger(label: "imn.server"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.registry = AgentRegistry(timeout: configuration.heartbeatTimeout)
        self.onListening = onListening
    }

    public func run() async throws {
        var nats = configuration.nats
        nats.retryOnFailedConnect = true
        nats.name = "imn-\(configuration.serverID)"
        let connection = try await NATSConnection.connect(nats, logger: logger)
        let dbos = try DBOSClient(address: configuration.dbosAddress)
        let api = MeasurementAPI(registry: registry, connection: connection, dbos: dbos, actor: configuration.serverID)
        let ingestor = ResultIngestor(connection: connection, dbos: dbos, actor: configuration.serverID, logger: logger)
        let app = makeApplication(api)
        try await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await dbos.run() }
                group.addTask { await ingestor.run() }
                group.addTask { try await self.followHeartbeats(connection, dbos: dbos) }
                group.addTask { try await app.run() }
            }
        }
        dbos.close()
        await connection.close()
    }

    /// Every heartbeat updates the registry and is recorded in DBOS.
    func followHeartbeats(_ connection: NATSConnection, dbos: DBOSClient) async throws {
        let heartbeats = try connection.subscribe(to: Subjects.allHeartbeats)
        for await message in heartbeats {
            guard let heartbeat = try? JSONDecoder().decode(Heartbeat.self, from: Data(message.payload)),
                Subjects.isValidToken(heartbeat.agentID), message.subject == Subjects.heartbeat(agent: heartbeat.agentID)
            else { continue }
            registry.record(heartbeat)
            var register = Imn_Dbos_V1_RegisterAgentRequest()
            register.id = heartbeat.agentID
            var stable = heartbeat
            (stable.sentAtMilliseconds, stable.sequence, stable.system) = (0, 0, nil)  // only what describes the agent
            register.info = (try? JSONEncoder().encode(stable)) ?? Data()
            register.actor = configuration.serverID
            Task { _ = try? await dbos.registerAgent(register) }
        }
    }

    static func query(_ request: Request) -> [String: String] {
        var values: [String: String] = [:]
        for (name, value) in request.uri.queryParameters { values[String(name)] = String(value) }
        return values
    }

    func makeApplication(_ api: MeasurementAPI) -> some ApplicationProtocol {
        let router = Router()
        func handle(_ body: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response)
            -> @Sendable (Request, BasicRequestContext) async throws -> Response
        {
            { request, context in
                do {
                    return try await body(request, context)
                } catch let problem as Problem {
                    return problem.response
                } catch {
                    return Problem(status: .internalServerError, title: "Internal error", detail: "\(error)").response
                }
            }
        }
        router.get("/", use: handle { _, _ in api.status() })
        router.get("/status", use: handle { _, _ in api.status() })
        router.get("/health", use: handle { _, _ in Problem.json(["status": "ok"]) })
        router.get("/agents", use: handle { _, _ in api.agents() })
        router.get("/agents/alive", use: handle { _, _ in api.agents(alive: true) })
        router.get("/agents/dead", use: handle { _, _ in api.agents(alive: false) })
        router.get(
            "/agents/:agent_id/results",
            use: handle { request, context in
                try await api.results(agentID: context.parameters.get("agent_id") ?? "", query: Self.query(request))
            })
        router.delete(
            "/agents/:agent_id/results/:request_id",
            use: handle { _, context in
                try await api.deleteResult(agentID: context.parameters.get("agent_id") ?? "", requestID: context.parameters.get("request_id") ?? "")
            })
        router.get(
            "/modules/states/:request_id", use: handle { _, context in try await api.state(requestID: context.parameters.get("request_id") ?? "") })
        router.get("/events", use: handle { request, _ in try await api.events(query: Self.query(request)) })
        router.get(
            "/agents/:agent_id",
            use: handle { _, context in
                let id = context.parameters.get("agent_id") ?? ""
                guard let entry = api.registry.entry(id) else { throw Problem(status: .notFound, title: "Unknown agent", detail: "no agent \(id)") }
                return Problem.json(api.describe(entry))
            })
        router.post(
            "/agent/:agent_id/:module",
            use: handle { request, context in
                let body = try await request.body.collect(upTo: 1 << 20)
                return try await api.trigger(
                    agentID: context.parameters.get("agent_id") ?? "", module: context.parameters.get("module") ?? "",
                    body: Array(buffer: body), idempotencyKey: request.headers.first { $0.name.canonicalName == "idempotency-key" }?.value,
                    wait: request.uri.queryParameters.get("wait").flatMap(Double.init))
            })
        router.get(
            "/agents/:agent_id/results/:request_id",
            use: handle { _, context in
                try await api.result(agentID: context.parameters.get("agent_id") ?? "", requestID: context.parameters.get("request_id") ?? "")
            })
        var logger = self.logger
        logger.logLevel = .warning
        let onListening = self.onListening
        return Application(
            router: router, configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "imn-server"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) }, logger: logger)
    }
}
