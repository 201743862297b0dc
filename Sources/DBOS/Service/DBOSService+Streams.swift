import GRPCCore
import Synchronization
import Tracing

// StoreResultStream: StoreResult calls over one long-lived stream. What arrives while a batch is
// being stored forms the next batch (one Redis round trip); each request is answered with its
// sequence number and the status its own call would have had.
extension DBOSService {
    public func storeResultStream(
        request: RPCAsyncSequence<Imn_Dbos_V1_StoreResultStreamRequest, any Error>,
        response: RPCWriter<Imn_Dbos_V1_StoreResultStreamResponse>, context: ServerContext
    ) async throws {
        let inbox = StreamInbox<Imn_Dbos_V1_StoreResultStreamRequest>()
        // A graceful shutdown ends the stream: what was read is still stored and answered.
        guard let token = streams.open({ inbox.finish() }) else { throw RPCError(code: .unavailable, message: "DBOS is shutting down") }
        defer { streams.close(token) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { inbox.finish() }
                for try await message in request { inbox.append(message) }
            }
            while let batch = await inbox.next(max: Self.maxBatchItems) {
                let results = batch.map { message in Result { () throws(DBOSError) in try message.request.result.stored() } }
                // A server span per traced result, as its unary call would have; the batch's Redis
                // work is recorded under the first of them.
                let method = Imn_Dbos_V1_DBOS.Method.StoreResult.descriptor
                let spans = batch.filter { !$0.traceContext.isEmpty }.map { message in
                    var parent = ServiceContext.topLevel
                    InstrumentationSystem.instrument.extract(message.traceContext, into: &parent, using: DictionaryCarrier())
                    let span = InstrumentationSystem.tracer.startSpan(method.fullyQualifiedMethod, context: parent, ofKind: .server)
                    span.setRPCAttributes(method)
                    span.attributes["imn.dbos.batch_size"] = batch.count
                    return span
                }
                let stored = await ServiceContext.$current.withValue(spans.first?.context ?? ServiceContext.current) {
                    await DBOSCallSpan.$current.withValue(spans.first) { await store.storeResults(results) }
                }
                for span in spans { span.end() }
                try await response.write(
                    contentsOf: zip(batch, storeOutcomes(stored)).map { message, outcome in
                        var reply = Imn_Dbos_V1_StoreResultStreamResponse()
                        reply.sequence = message.sequence
                        reply.outcome = outcome
                        return reply
                    })
            }
            group.cancelAll()
            try await group.waitForAll()
        }
    }
}

/// The streams a DBOS service has open, so that a graceful shutdown can end them (an open stream
/// would otherwise hold the shutdown until its client closes it).
final class OpenStreams: Sendable {
    private struct State {
        var next = 0
        var ends: [Int: @Sendable () -> Void] = [:]
        var shuttingDown = false
    }

    private let state = Mutex(State())

    /// A token for ``close(_:)``; nil when shutting down.
    func open(_ end: @escaping @Sendable () -> Void) -> Int? {
        state.withLock { state in
            guard !state.shuttingDown else { return nil }
            state.next += 1
            state.ends[state.next] = end
            return state.next
        }
    }

    func close(_ token: Int) { _ = state.withLock { $0.ends.removeValue(forKey: token) } }

    func endAll() {
        let ends = state.withLock { state in
            state.shuttingDown = true
            return Array(state.ends.values)
        }
        for end in ends { end() }
    }
}
