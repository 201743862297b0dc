import GRPCCore
import Synchronization

/// The standard `grpc.health.v1.Health` service. DBOS is SERVING while Redis answers; the
/// status is kept by ``DBOSServer``'s Redis monitor, so a check never waits on Redis.
public final class HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
    /// The names a client may ask about: "" (the whole server) and the DBOS service.
    static let services: Set<String> = ["", "imn.dbos.v1.DBOS"]
    private let serving = Mutex(false)

    public init() {}

    public var isServing: Bool { serving.withLock { $0 } }

    func setServing(_ value: Bool) { serving.withLock { $0 = value } }

    private var status: Grpc_Health_V1_HealthCheckResponse {
        var response = Grpc_Health_V1_HealthCheckResponse()
        response.status = isServing ? .serving : .notServing
        return response
    }

    public func check(request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext) async throws -> Grpc_Health_V1_HealthCheckResponse {
        guard Self.services.contains(request.service) else {
            throw RPCError(code: .notFound, message: "unknown service \"\(request.service)\"")
        }
        return status
    }

    public func watch(
        request: Grpc_Health_V1_HealthCheckRequest, response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>, context: ServerContext
    ) async throws {
        guard Self.services.contains(request.service) else {
            var unknown = Grpc_Health_V1_HealthCheckResponse()
            unknown.status = .serviceUnknown
            try await response.write(unknown)
            return
        }
        var last: Grpc_Health_V1_HealthCheckResponse?
        while !Task.isCancelled {
            let current = status
            if current != last {
                try await response.write(current)
                last = current
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}
