import CoreMetrics
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging

/// A typed client of DBOS for the server and tools. Every call has a deadline; idempotent
/// calls (reads, StoreResult, RegisterAgent, AckTask, Cancel/Delete, ScheduleTask with an id)
/// are retried on UNAVAILABLE, the others are not (a retried SetModuleState or claim could apply
/// twice).
///
/// Run ``run()`` (directly or in a ServiceGroup) for the connections to live; ``close()`` stops.
public final class DBOSClient: Sendable {
    /// Trailer carrying the current state (an encoded `ModuleState`) with ABORTED and FAILED_PRECONDITION.
    public static let currentStateMetadataKey = "imn-current-state-bin"

    public let client: GRPCClient<HTTP2ClientTransport.Posix>
    public let dbos: Imn_Dbos_V1_DBOS.Client<HTTP2ClientTransport.Posix>
    public let health: Grpc_Health_V1_Health.Client<HTTP2ClientTransport.Posix>
    let timeout: Duration
    let resultBatcher: DBOSBatcher<Imn_Dbos_V1_StoreResultRequest, Imn_Dbos_V1_StoreResultResponse>
    let statesBatcher: DBOSBatcher<[Imn_Dbos_V1_SetModuleStateRequest], [Imn_Dbos_V1_SetModuleStateOutcome]>
    let createBatcher: DBOSBatcher<Imn_Dbos_V1_CreateMeasurementRequest, Imn_Dbos_V1_CreateMeasurementResponse>
    let resultStream: DBOSResultStream

    /// `address` is `host:port` (default `127.0.0.1:50051`); `tls` nil is plaintext; `metrics`
    /// counts the calls made (`imn_dbos_client_calls_total{method}`).
    public init(
        address: String = "127.0.0.1:50051", timeout: Duration = .seconds(5), tls: DBOSTLS.Client? = nil, metrics: (any MetricsFactory)? = nil
    ) throws {
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
            throw RPCError(code: .invalidArgument, message: "DBOS address must be host:port, got \"\(address)\"")
        }
        let transport = try HTTP2ClientTransport.Posix(
            target: .dns(host: String(parts[0]), port: port), transportSecurity: tls?.transportSecurity ?? .plaintext,
            config: .defaults {
                // Every flush goes out at once: DBOS calls are small and latency-bound.
                $0.connection.flushCoalescing = nil
                // After a DBOS restart, connect again within two seconds (the default backs off to two minutes).
                $0.backoff = .init(initial: .milliseconds(100), max: .seconds(2), multiplier: 1.6, jitter: 0.2)
            })
        let counting: [any ClientInterceptor] = metrics.map { [ClientMetricsInterceptor(factory: $0)] } ?? []
        client = GRPCClient(transport: transport, interceptors: counting + [ClientTracingInterceptor()])
        dbos = Imn_Dbos_V1_DBOS.Client(wrapping: client)
        health = Grpc_Health_V1_Health.Client(wrapping: client)
        self.timeout = timeout
        resultBatcher = Self.makeResultBatcher(dbos, options: Self.options(timeout: timeout, idempotent: true))
        statesBatcher = Self.makeStatesBatcher(dbos, options: Self.options(timeout: timeout, idempotent: false))
        createBatcher = Self.makeCreateBatcher(dbos, options: Self.options(timeout: timeout, idempotent: true))
        resultStream = DBOSResultStream(dbos, timeout: timeout)
    }

    /// Maintains the connections until ``close()``.
    public func run() async throws { try await client.runConnections() }

    public func close() {
        resultStream.close()
        client.beginGracefulShutdown()
    }

    /// Options for a call: its deadline, and retries on UNAVAILABLE when `idempotent`.
    public func options(idempotent: Bool) -> CallOptions { Self.options(timeout: timeout, idempotent: idempotent) }

    static func options(timeout: Duration, idempotent: Bool) -> CallOptions {
        var options = CallOptions.defaults
        options.timeout = timeout
        if idempotent { options.executionPolicy = .retry(idempotentRetry) }
        return options
    }

    /// How idempotent calls are retried (``storeResultStreamed(_:)`` follows it too).
    static let idempotentRetry = RetryPolicy(
        maxAttempts: 4, initialBackoff: .milliseconds(50), maxBackoff: .seconds(1), backoffMultiplier: 2, retryableStatusCodes: [.unavailable])

    /// True when DBOS says it is serving (Redis reachable).
    public func isServing() async -> Bool {
        var request = Grpc_Health_V1_HealthCheckRequest()
        request.service = "imn.dbos.v1.DBOS"
        let response = try? await health.check(request, options: options(idempotent: false))
        return response?.status == .serving
    }

    /// The current state carried by an ABORTED or FAILED_PRECONDITION error.
    public static func currentState(in error: RPCError) -> Imn_Dbos_V1_ModuleState? {
        for bytes in error.metadata[binaryValues: currentStateMetadataKey] {
            if let state = try? Imn_Dbos_V1_ModuleState(serializedBytes: bytes) { return state }
        }
        return nil
    }
}
