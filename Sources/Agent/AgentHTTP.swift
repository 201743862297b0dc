import Foundation
import Hummingbird
import IMNCore
import Logging
import NIOCore

/// The agent's HTTP endpoints on its metrics port: `/metrics` (Prometheus text 0.0.4),
/// `/health` and `/modules`.
public enum AgentHTTP {
    public static func application(
        runtime: AgentRuntime, metrics: AgentMetrics, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
        router.get("health") { _, _ -> Response in
            json([
                "status": "ok", "agent_id": .string(runtime.id), "name": .string(runtime.configuration.name), "version": .string(IMNVersion.current),
            ])
        }
        router.get("modules") { _, _ -> Response in
            json(.array(runtime.modules.specs.map { spec in (try? JSONValue(parsing: JSONEncoder().encode(spec))) ?? .null }))
        }
        let configuration = ApplicationConfiguration(
            address: .hostname(runtime.configuration.metricsHost, port: runtime.configuration.metricsPort), serverName: "imn-agent")
        var logger = Logger(label: "imn.agent.http")
        logger.logLevel = .warning
        return Application(
            router: router, configuration: configuration,
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) }, logger: logger)
    }

    static func json(_ value: JSONValue) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.bytes)))
    }
}
