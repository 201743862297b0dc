import GRPCCore
import Synchronization
import Tracing

/// Group commit for DBOS writes: concurrent callers' StoreResult (or SetModuleState) calls travel
/// together in one StoreResults (SetModuleStates) call. A call leaves at once while fewer than
/// `maxInFlight` batches are under way; otherwise it waits and joins the next batch, which leaves
/// as soon as one returns. A lone caller therefore waits no longer than with the single call, and
/// under load one gRPC call and one Redis round trip carry many. Each caller gets its own reply,
/// or the error its own call would have thrown.
///
/// A batch of traced callers is a trace of its own — a span (`name`) over the call, linked to each
/// caller's span — and each caller learns that span's context to link back to it
/// (``submitLinked(_:)``): a measurement's trace leads to the DBOS work done for it with others.
public final class DBOSBatcher<Item: Sendable, Reply: Sendable>: Sendable {
    public typealias Send = @Sendable ([Item]) async throws -> [Result<Reply, RPCError>]

    let send: Send
    let size: @Sendable (Item) -> Int
    let maxInFlight: Int
    let maxItems: Int
    let maxBytes: Int
    let name: String

    private struct Waiting {
        let item: Item
        let size: Int
        /// The caller's trace context, linked from the batch's span.
        let context: ServiceContext?
        let continuation: CheckedContinuation<(reply: Reply, batch: ServiceContext?), any Error>
    }

    private struct State {
        var queue: [Waiting] = []
        var inFlight = 0
    }

    private let state = Mutex(State())

    /// `size` estimates an item's encoded size; a batch stays under `maxBytes` (gRPC's default
    /// message limit is 4 MiB) unless one item alone is larger.
    public init(
        name: String = "imn.dbos group commit", maxInFlight: Int = 2, maxItems: Int = 256, maxBytes: Int = 2 << 20,
        size: @escaping @Sendable (Item) -> Int, send: @escaping Send
    ) {
        self.name = name
        self.maxInFlight = max(1, maxInFlight)
        self.maxItems = max(1, maxItems)
        self.maxBytes = maxBytes
        self.size = size
        self.send = send
    }

    public func submit(_ item: Item) async throws -> Reply { try await submitLinked(item).reply }

    /// The reply, and the trace context of the batch's span when the caller was traced (to link to).
    public func submitLinked(_ item: Item) async throws -> (reply: Reply, batch: ServiceContext?) {
        let size = size(item)
        let context = ServiceContext.current
        return try await withCheckedThrowingContinuation { continuation in
            let batch = state.withLock { state -> [Waiting]? in
                state.queue.append(Waiting(item: item, size: size, context: context, continuation: continuation))
                guard state.inFlight < maxInFlight else { return nil }
                state.inFlight += 1
                return take(&state)
            }
            // Its own trace: a batch belongs to many callers' traces, not to the first one's.
            if let batch { Task.detached { await self.drain(batch) } }
        }
    }

    /// Sends `batch`, then the next ones queued meanwhile, until the queue is empty.
    private func drain(_ first: [Waiting]) async {
        var batch = first
        while true {
            await deliver(batch)
            let next = state.withLock { state -> [Waiting]? in
                guard !state.queue.isEmpty else {
                    state.inFlight -= 1
                    return nil
                }
                return take(&state)
            }
            guard let next else { return }
            batch = next
        }
    }

    private func take(_ state: inout State) -> [Waiting] {
        var count = 0
        var bytes = 0
        for waiting in state.queue {
            guard count < maxItems, count == 0 || bytes + waiting.size <= maxBytes else { break }
            count += 1
            bytes += waiting.size
        }
        let batch = Array(state.queue.prefix(count))
        state.queue.removeFirst(count)
        return batch
    }

    private func deliver(_ batch: [Waiting]) async {
        let callers = batch.compactMap(\.context)
        guard !callers.isEmpty else { return await deliver(batch, context: nil) }
        await withSpan(name, ofKind: .internal) { span in
            span.attributes["imn.dbos.batch.items"] = batch.count
            for caller in callers { span.addLink(SpanLink(context: caller, attributes: [:])) }
            await deliver(batch, context: ServiceContext.current)
        }
    }

    private func deliver(_ batch: [Waiting], context: ServiceContext?) async {
        do {
            let replies = try await send(batch.map(\.item))
            for (index, waiting) in batch.enumerated() {
                if index < replies.count {
                    waiting.continuation.resume(with: replies[index].map { (reply: $0, batch: context) }.mapError { $0 as any Error })
                } else {
                    waiting.continuation.resume(throwing: RPCError(code: .internalError, message: "DBOS answered fewer items than it was sent"))
                }
            }
        } catch {
            for waiting in batch { waiting.continuation.resume(throwing: error) }
        }
    }
}
