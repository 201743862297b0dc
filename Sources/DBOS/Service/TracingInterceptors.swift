import GRPCCore
import Tracing

/// Trace context over gRPC metadata (`traceparent`, `tracestate`): a client span per call with the
/// context injected, and on the server a span per call continuing the caller's trace. Both use
/// the process's bootstrapped tracer (a no-op when none is).
struct ClientTracingInterceptor: ClientInterceptor {
    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingClientRequest<Input>, context: ClientContext,
        next: (StreamingClientRequest<Input>, ClientContext) async throws -> StreamingClientResponse<Output>
    ) async throws -> StreamingClientResponse<Output> {
        if DBOSClient.isUntraced {
            // Background polling: tell the server not to record either (W3C "not sampled").
            var request = request
            let random = { String(UInt64.random(in: 1...UInt64.max), radix: 16).leftPadded(16) }
            request.metadata.replaceOrAddString("00-\(random())\(random())-\(random())-00", forKey: "traceparent")
            return try await next(request, context)
        }
        return try await withSpan(context.descriptor.fullyQualifiedMethod, ofKind: .client) { span in
            span.setRPCAttributes(context.descriptor)
            var request = request
            InstrumentationSystem.instrument.inject(span.context, into: &request.metadata, using: MetadataCarrier())
            let response = try await next(request, context)
            if case .failure(let error) = response.accepted {
                span.attributes["rpc.grpc.status_code"] = error.code.rawValue
                span.setStatus(SpanStatus(code: .error, message: error.message))
            }
            return response
        }
    }
}

struct ServerTracingInterceptor: ServerInterceptor {
    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        var parent = ServiceContext.current ?? .topLevel
        InstrumentationSystem.instrument.extract(request.metadata, into: &parent, using: MetadataCarrier())
        return try await withSpan(context.descriptor.fullyQualifiedMethod, context: parent, ofKind: .server) { span in
            span.setRPCAttributes(context.descriptor)
            let response = try await DBOSCallSpan.$current.withValue(span) { try await next(request, context) }
            if case .failure(let error) = response.accepted {
                span.attributes["rpc.grpc.status_code"] = error.code.rawValue
                if error.code != .notFound && error.code != .aborted && error.code != .alreadyExists {
                    span.setStatus(SpanStatus(code: .error, message: error.message))
                }
            }
            return response
        }
    }
}

struct MetadataCarrier: Injector, Extractor {
    func inject(_ value: String, forKey key: String, into metadata: inout Metadata) {
        metadata.replaceOrAddString(value, forKey: key)
    }

    func extract(key: String, from metadata: Metadata) -> String? {
        metadata[stringValues: key].first(where: { _ in true })
    }
}

extension DBOSClient {
    @TaskLocal static var isUntraced = false

    /// Runs `body` with its DBOS calls left out of tracing (background polls and heartbeats, which
    /// would otherwise fill the trace store with one trace every few hundred milliseconds).
    public static func untraced<T>(_ body: () async throws -> T) async rethrows -> T {
        try await $isUntraced.withValue(true) { try await body() }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// Trace context in a message's string map (StoreResultStream carries it per result).
struct DictionaryCarrier: Injector, Extractor {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

extension Span {
    /// What every DBOS call's span says of the call (OpenTelemetry's RPC conventions).
    func setRPCAttributes(_ method: MethodDescriptor) {
        attributes["rpc.system"] = "grpc"
        attributes["rpc.service"] = method.service.fullyQualifiedService
        attributes["rpc.method"] = method.method
    }
}

/// The server span of the DBOS call being served: its Redis commands are events on it.
enum DBOSCallSpan {
    @TaskLocal static var current: (any Span)?
}
