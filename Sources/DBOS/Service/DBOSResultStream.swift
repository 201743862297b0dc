import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization
import Tracing

/// StoreResult over one StoreResultStream call that stays open (opened at the first result,
/// reopened after a break): no call set-up per result, and what callers submit together travels
/// together. Each caller gets its own reply or error; a result not answered within `timeout`
/// fails with DEADLINE_EXCEEDED (also while DBOS cannot be reached: the stream waits to connect);
/// a broken stream fails its unanswered results with UNAVAILABLE
/// (StoreResult is idempotent: ``DBOSClient/storeResultStreamed(_:)`` resends them).
final class DBOSResultStream: Sendable {
    typealias Request = Imn_Dbos_V1_StoreResultStreamRequest
    typealias Reply = Imn_Dbos_V1_StoreResultResponse

    private struct Pending {
        let continuation: CheckedContinuation<Reply, any Error>
        let deadline: ContinuousClock.Instant
    }

    private struct State {
        var nextSequence: UInt64 = 0
        var pending: [UInt64: Pending] = [:]
        var outbox: StreamInbox<Request>?
        var closed = false
    }

    private let dbos: Imn_Dbos_V1_DBOS.Client<HTTP2ClientTransport.Posix>
    private let timeout: Duration
    private let state = Mutex(State())

    init(_ dbos: Imn_Dbos_V1_DBOS.Client<HTTP2ClientTransport.Posix>, timeout: Duration) {
        self.dbos = dbos
        self.timeout = timeout
    }

    /// Stores `request`; traced like a unary StoreResult (a client span whose context rides in the
    /// message) unless the caller runs ``DBOSClient/untraced(_:)``.
    func submit(_ request: Imn_Dbos_V1_StoreResultRequest) async throws -> Reply {
        if DBOSClient.isUntraced { return try await submit(request, traceContext: [:]) }
        let method = Imn_Dbos_V1_DBOS.Method.StoreResult.descriptor
        return try await withSpan(method.fullyQualifiedMethod, ofKind: .client) { span in
            span.setRPCAttributes(method)
            span.attributes["imn.dbos.stream"] = true
            var traceContext: [String: String] = [:]
            InstrumentationSystem.instrument.inject(span.context, into: &traceContext, using: DictionaryCarrier())
            do {
                return try await submit(request, traceContext: traceContext)
            } catch let error as RPCError {
                span.attributes["rpc.grpc.status_code"] = error.code.rawValue
                throw error
            }
        }
    }

    private func submit(_ request: Imn_Dbos_V1_StoreResultRequest, traceContext: [String: String]) async throws -> Reply {
        try await withCheckedThrowingContinuation { continuation in
            let deadline = ContinuousClock.now + timeout
            let opened = state.withLock { state -> (StreamInbox<Request>, Request, Bool)? in
                guard !state.closed else { return nil }
                var message = Request()
                message.sequence = state.nextSequence
                message.request = request
                message.traceContext = traceContext
                state.nextSequence += 1
                state.pending[message.sequence] = Pending(continuation: continuation, deadline: deadline)
                if let outbox = state.outbox { return (outbox, message, false) }
                let outbox = StreamInbox<Request>()
                state.outbox = outbox
                return (outbox, message, true)
            }
            guard let (outbox, message, isNew) = opened else {
                continuation.resume(throwing: RPCError(code: .unavailable, message: "the DBOS client is closed"))
                return
            }
            outbox.append(message)
            // Its own task, untraced: the stream outlives every caller's trace.
            if isNew { Task.detached { await DBOSClient.untraced { await self.run(outbox) } } }
        }
    }

    /// Ends the stream: results already submitted are still sent and answered.
    func close() {
        let outbox = state.withLock { state -> StreamInbox<Request>? in
            state.closed = true
            return state.outbox
        }
        outbox?.finish()
    }

    private func run(_ outbox: StreamInbox<Request>) async {
        var options = CallOptions.defaults
        options.executionPolicy = nil
        // While DBOS is (re)starting the stream waits to connect; each result still has its deadline.
        options.waitForReady = true
        let failure: RPCError
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.expireLate(outbox) }
                try await dbos.storeResultStream(options: options) { writer in
                    while let batch = await outbox.next(max: 256) { try await writer.write(contentsOf: batch) }
                } onResponse: { response in
                    for try await message in response.messages { self.answer(message) }
                }
                group.cancelAll()
            }
            failure = RPCError(code: .unavailable, message: "the DBOS result stream ended")
        } catch let error as RPCError {
            failure = error
        } catch {
            failure = RPCError(code: .unavailable, message: "the DBOS result stream broke: \(error)")
        }
        outbox.finish()
        let unanswered = state.withLock { state -> [Pending] in
            guard state.outbox === outbox else { return [] }
            state.outbox = nil
            defer { state.pending = [:] }
            return Array(state.pending.values)
        }
        for pending in unanswered { pending.continuation.resume(throwing: failure) }
    }

    private func answer(_ message: Imn_Dbos_V1_StoreResultStreamResponse) {
        guard let pending = state.withLock({ $0.pending.removeValue(forKey: message.sequence) }) else { return }
        let outcome = message.outcome
        if outcome.hasStatus && outcome.status.code != 0 {
            pending.continuation.resume(throwing: DBOSClient.rpcError(outcome.status))
        } else {
            pending.continuation.resume(returning: outcome.response)
        }
    }

    /// Fails results unanswered past their deadline, four times a second, while the stream is open.
    private func expireLate(_ outbox: StreamInbox<Request>) async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(250))
            let now = ContinuousClock.now
            let late = state.withLock { state -> [Pending] in
                let keys = state.pending.filter { $0.value.deadline <= now }.map(\.key)
                return keys.compactMap { state.pending.removeValue(forKey: $0) }
            }
            for pending in late {
                pending.continuation.resume(throwing: RPCError(code: .deadlineExceeded, message: "DBOS did not answer within \(timeout)"))
            }
        }
    }
}
