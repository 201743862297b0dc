import FoundationEssentials
import HTTPTypes
import HummingbirdCore
import IMNCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The agent's HTTP endpoints on its metrics port: `/metrics` (Prometheus text 0.0.4),
/// `/health` and `/modules`. Served by HummingbirdCore without Hummingbird's router, which
/// would bring full Foundation (and ICU) into the agent's memory for three routes.
public enum AgentHTTP {
    public static func service(
        runtime: AgentRuntime, metrics: AgentMetrics, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> any Service {
        let configuration = ServerConfiguration(
            address: .hostname(runtime.configuration.metricsHost, port: runtime.configuration.metricsPort), serverName: "imn-agent")
        var logger = Logger(label: "imn.agent.http")
        logger.logLevel = .warning
        return try plainServer(configuration: configuration, logger: logger, onListening: onListening) { head in
            respond(to: head, runtime: runtime, metrics: metrics)
        }
    }

    /// An HTTP/1.1 server of a few GET routes without a router: `respond` gives each request's
    /// status, content type and body. Also DBOS's `/metrics` (``MetricsEndpoint``).
    public static func plainServer(
        configuration: ServerConfiguration, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void,
        respond: @escaping @Sendable (HTTPRequest) -> (HTTPResponse.Status, String, [UInt8])
    ) throws -> any Service {
        try HTTPServerBuilder.http1().buildServer(
            configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger,
            responder: { request, writer, _ in
                let (status, contentType, body) = respond(request.head)
                var headers = HTTPFields()
                headers[.contentType] = contentType
                headers[.contentLength] = "\(body.count)"
                try await writer.write(
                    response: HTTPResponse(status: status, headerFields: headers), body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
            },
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) })
    }

    static func respond(to head: HTTPRequest, runtime: AgentRuntime, metrics: AgentMetrics) -> (HTTPResponse.Status, String, [UInt8]) {
        let json = "application/json"
        let path = head.path.map { String($0.prefix { $0 != "?" }) } ?? "/"
        guard head.method == .get || head.method == .head else {
            return (.methodNotAllowed, json, JSONValue.object(["error": "only GET is served here"]).bytes)
        }
        switch path {
        case "/metrics":
            return (.ok, MetricsExposition.contentType, metrics.exposition())
        case "/health":
            let health: JSONValue = [
                "status": "ok", "agent_id": .string(runtime.id), "name": .string(runtime.configuration.name), "version": .string(IMNVersion.current),
            ]
            return (.ok, json, health.bytes)
        case "/modules":
            let specs = runtime.modules.specs.map { spec in (try? JSONValue(parsing: JSONEncoder().encode(spec))) ?? .null }
            return (.ok, json, JSONValue.array(specs).bytes)
        default:
            return (.notFound, json, JSONValue.object(["error": .string("no route \(path); try /metrics, /health or /modules")]).bytes)
        }
    }
}
