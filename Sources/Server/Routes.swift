import Foundation
import Hummingbird
import IMNCore
import NIOCore

/// Every route of the REST API in one place. `GET /openapi.json` describes exactly these (a test
/// checks it).
extension IMNServer {
    func makeRouter(_ api: MeasurementAPI, live: LiveHub) -> Router<BasicRequestContext> {
        let router = Router()
        // A server span per request (continuing a caller's traceparent), then metrics by route.
        router.add(middleware: TracingMiddleware())
        router.add(middleware: RequestMetricsMiddleware(metrics: api.metrics))
        router.add(middleware: MethodNotAllowedMiddleware())
        router.add(middleware: AuthenticationMiddleware(tokens: configuration.tokens))
        router.get(
            "/", use: handle { request, _ in Self.wantsPage(request) ? Self.text(WebPage.html, type: "text/html; charset=utf-8") : api.status() })
        router.get("/status", use: handle { _, _ in api.status() })
        router.get("/health", use: handle { _, _ in Problem.json(["status": "ok"]) })
        router.get("/ready", use: handle { _, _ in await api.ready() })
        router.get("/metrics", use: handle { _, _ in self.metricsResponse(api) })
        let openAPI = OpenAPIDocument.document(modules: configuration.builtInModules)
        router.get("/openapi.json", use: handle { _, _ in Problem.json(openAPI) })
        router.get("/docs", use: handle { _, _ in Self.text(DocsPage.html, type: "text/html; charset=utf-8") })

        router.get("/agents", use: handle { request, _ in try api.agents(query: Self.query(request)) })
        router.get("/agents/alive", use: handle { _, _ in api.agents(alive: true) })
        router.get("/agents/dead", use: handle { _, _ in api.agents(alive: false) })
        router.get(
            "/agents/:agent_id",
            use: handle { _, context in
                let id = try context.parameters.require("agent_id")
                guard let entry = api.registry.entry(id) else { throw Problem(status: .notFound, title: "Unknown agent", detail: "no agent \(id)") }
                return Problem.json(api.describe(entry))
            })
        router.post(
            "/agent/:agent_id/:module",
            use: handle { request, context in
                let body = try await Self.body(request)
                let query = Self.query(request)
                return try await api.trigger(
                    agentID: try context.parameters.require("agent_id"), module: try context.parameters.require("module"), body: body,
                    idempotencyKey: request.headers.first { $0.name.canonicalName == "idempotency-key" }?.value, wait: try Self.wait(query["wait"]),
                    untracked: query["untracked"] == "true" || query["untracked"] == "1")
            })
        router.post(
            "/measurements",
            use: handle { request, _ in
                try await api.createMeasurement(
                    body: try await Self.body(request), idempotencyKey: request.headers.first { $0.name.canonicalName == "idempotency-key" }?.value,
                    wait: try Self.wait(Self.query(request)["wait"]))
            })
        router.get("/measurements", use: handle { request, _ in try await api.measurements(query: Self.query(request)) })
        router.get(
            "/measurements/:measurement_id",
            use: handle { request, context in
                try await api.measurementAnswer(id: try context.parameters.require("measurement_id"), query: Self.query(request))
            })
        router.get(
            "/agents/:agent_id/results",
            use: handle { request, context in try await api.results(agentID: try context.parameters.require("agent_id"), query: Self.query(request)) }
        )
        router.get(
            "/agents/:agent_id/results/:request_id",
            use: handle { _, context in
                try await api.result(agentID: try context.parameters.require("agent_id"), requestID: try context.parameters.require("request_id"))
            })
        router.delete(
            "/agents/:agent_id/results/:request_id",
            use: handle { _, context in
                try await api.deleteResult(
                    agentID: try context.parameters.require("agent_id"), requestID: try context.parameters.require("request_id"))
            })
        router.post(
            "/agents/:agent_id/modules/:module/:action",
            use: handle { _, context in
                try await api.control(
                    agentID: try context.parameters.require("agent_id"), module: try context.parameters.require("module"),
                    action: try context.parameters.require("action"))
            })

        router.get("/modules/states", use: handle { request, _ in try await api.states(query: Self.query(request)) })
        router.get(
            "/modules/states/:request_id", use: handle { _, context in try await api.state(requestID: try context.parameters.require("request_id")) })

        router.post("/schedules", use: handle { request, _ in try await api.createSchedule(body: try await Self.body(request)) })
        router.get("/schedules", use: handle { request, _ in try await api.schedules(query: Self.query(request)) })
        router.get("/schedules/:schedule_id", use: handle { _, context in try await api.schedule(id: try context.parameters.require("schedule_id")) })
        router.delete(
            "/schedules/:schedule_id", use: handle { _, context in try await api.deleteSchedule(id: try context.parameters.require("schedule_id")) })

        router.get("/events", use: handle { request, _ in try await api.events(query: Self.query(request)) })
        router.get("/history", use: handle { request, _ in try await api.history(query: Self.query(request)) })
        router.get("/live/events", use: handle { request, _ in try Self.liveEvents(request, hub: live) })
        return router
    }

    /// Every error a handler throws becomes a problem response.
    func handle(_ body: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response)
        -> @Sendable (Request, BasicRequestContext) async throws -> Response
    {
        { request, context in
            do {
                return try await body(request, context)
            } catch let problem as Problem {
                return problem.response
            } catch is NIOTooManyBytesError {
                return Problem(status: .contentTooLarge, title: "Body too large", detail: "bodies are limited to 1 MiB").response
            } catch {
                return Problem(status: .internalServerError, title: "Internal error", detail: "\(error)").response
            }
        }
    }

    func metricsResponse(_ api: MeasurementAPI) -> Response {
        // The agent gauges are kept current by IMNServer.watchAgents.
        return Self.text(String(decoding: api.metrics.exposition(), as: UTF8.self), type: MetricsExposition.contentType)
    }

    static func text(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func body(_ request: Request) async throws -> [UInt8] {
        Array(buffer: try await request.body.collect(upTo: 1 << 20))
    }

    /// A browser asking for a page (`Accept` names text/html); API clients get JSON.
    static func wantsPage(_ request: Request) -> Bool {
        request.headers[.accept]?.lowercased().contains("text/html") == true
    }

    static func query(_ request: Request) -> [String: String] {
        var values: [String: String] = [:]
        for (name, value) in request.uri.queryParameters { values[String(name)] = String(value) }
        return values
    }

    /// `?wait=` in seconds (0–60), nil when absent.
    static func wait(_ text: String?) throws -> Double? {
        guard let text else { return nil }
        guard let seconds = Double(text), seconds >= 0, seconds.isFinite else {
            throw Problem(status: .badRequest, title: "Bad query parameter", detail: "wait must be a number of seconds between 0 and 60")
        }
        return min(seconds, 60)
    }
}
