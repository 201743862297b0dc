import CoreMetrics
import GRPCCore

/// Counts every call by method and status code and times it by method.
struct ServerMetricsInterceptor: ServerInterceptor {
    let factory: any MetricsFactory

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let start = ContinuousClock.now
        let method = context.descriptor.method
        var code = "ok"
        defer {
            Counter(label: "imn_dbos_rpcs_total", dimensions: [("method", method), ("code", code)], factory: factory).increment()
            let elapsed = ContinuousClock.now - start
            Timer(label: "imn_dbos_rpc_duration_seconds", dimensions: [("method", method)], factory: factory)
                .recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        }
        do {
            let response = try await next(request, context)
            if case .failure(let error) = response.accepted { code = "\(error.code)" }
            return response
        } catch let error as RPCError {
            code = "\(error.code)"
            throw error
        } catch {
            code = "unknown"
            throw error
        }
    }
}

/// Counts the calls a client makes, by method (`imn_dbos_client_calls_total`): how many DBOS
/// round trips a measurement took. A stream counts once, however many messages it carries.
struct ClientMetricsInterceptor: ClientInterceptor {
    let factory: any MetricsFactory

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingClientRequest<Input>, context: ClientContext,
        next: (StreamingClientRequest<Input>, ClientContext) async throws -> StreamingClientResponse<Output>
    ) async throws -> StreamingClientResponse<Output> {
        Counter(label: "imn_dbos_client_calls_total", dimensions: [("method", context.descriptor.method)], factory: factory).increment()
        return try await next(request, context)
    }
}
