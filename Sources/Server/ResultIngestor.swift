import DBOS
import Foundation
import GRPCCore
import IMNCore
import Logging
import NATSClient
import Synchronization
import Tracing

/// Moves results and state transitions from the `IMN_RESULTS` stream into DBOS: a durable pull
/// consumer shared by every server replica; a message is acknowledged only after DBOS confirmed
/// it, and NAKed with a delay otherwise. The ledger advances each run (missing intermediate states
/// applied in order; late duplicates change nothing: DBOS's version and order checks decide). Each applied change is
/// announced on `imn.live.state`, which wakes `?wait=` requests on every replica.
final class ResultIngestor: Sendable {
    let ledger: MeasurementLedger
    let logger: Logger
    /// Terminal messages decoded when fetched (to answer waits), by `Nats-Msg-Id`, until applied.
    private let decoded = Mutex<[String: ResultMessage]>([:])
    var connection: NATSConnection { ledger.connection }
    var metrics: ServerMetrics { ledger.metrics }

    init(ledger: MeasurementLedger, logger: Logger) {
        self.ledger = ledger
        self.logger = logger
    }

    /// How far along `state` is (created 0 … terminal 3); nil for a name that is not a state.
    static func step(_ state: String) -> Int? { ModuleStateName(rawValue: state)?.step }

    func run() async {
        var configuration = JetStreamConsumerConfiguration(durableName: "imn-server", filterSubject: Subjects.allResults)
        // A replica killed mid-batch holds its messages this long before another gets them.
        configuration.ackWait = .seconds(10)
        configuration.maxDeliver = 20
        var consumer: JetStreamPullConsumer?
        while consumer == nil && !Task.isCancelled {
            do {
                try await connection.jetStream.createOrUpdateStream(.imnResults)
                consumer = try await connection.jetStream.pullConsumer(stream: Subjects.resultsStream, configuration: configuration)
            } catch {
                logger.debug("results consumer not ready", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        guard let consumer else { return }
        defer { consumer.close() }
        // Requests are independent: each has its own lane, where its messages are applied in
        // order, while the next fetch goes on; at most `maxLanes` requests are being applied.
        let lanes = IngestionLanes()
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                await lanes.waitForRoom(Self.maxLanes)
                let messages = (try? await consumer.fetch(batch: 64, timeout: .milliseconds(500))) ?? []
                for message in messages where Self.messageID(of: message)?.isTerminal == true { answerWaits(message) }
                for (key, batch) in Self.byRequest(messages) {
                    guard let first = lanes.enter(key, batch) else { continue }  // its lane runs: queued there
                    group.addTask { await self.drain(lane: key, first: first, lanes) }
                }
            }
        }
    }

    /// How long an earlier state (started, running) waits for its request's next message.
    static let holdEarlierStates = Duration.milliseconds(5)
    static let maxLanes = 512

    /// Applies a lane's messages until none are queued: an earlier state first waits briefly for
    /// its result, which often follows within milliseconds, so that one DBOS write brings the state
    /// all the way.
    func drain(lane key: String, first: [JetStreamMessage], _ lanes: IngestionLanes) async {
        var batch: [JetStreamMessage]? = first
        while var current = batch {
            if !current.contains(where: { Self.messageID(of: $0)?.isTerminal == true }) {
                current += await lanes.more(key, within: Self.holdEarlierStates)
            }
            await apply(current)
            batch = lanes.next(key)
        }
    }

    /// A fetch's messages by request, in order of first appearance.
    static func byRequest(_ messages: [JetStreamMessage]) -> [(key: String, messages: [JetStreamMessage])] {
        var groups: [(key: String, messages: [JetStreamMessage])] = []
        var position: [String: Int] = [:]
        for message in messages {
            // A message without an id (not an agent's) is a request of its own.
            let key = messageID(of: message)?.requestID ?? "\(message.subject)#\(groups.count)"
            if let index = position[key] {
                groups[index].messages.append(message)
            } else {
                position[key] = groups.count
                groups.append((key, [message]))
            }
        }
        return groups
    }

    /// The `Nats-Msg-Id` an agent gives each transition, `<request id>:<state>`.
    static func messageID(of message: JetStreamMessage) -> (requestID: String, isTerminal: Bool)? {
        guard let id = message.headers["Nats-Msg-Id"], let colon = id.lastIndex(of: ":") else { return nil }
        return (String(id[..<colon]), ModuleStateName(rawValue: String(id[id.index(after: colon)...]))?.isTerminal == true)
    }

    /// Applies one request's messages from a fetch: the state is brought straight to the
    /// furthest one (intermediate states included, in one DBOS call), its result stored beside
    /// it, then every message is announced and acknowledged.
    func apply(_ messages: [JetStreamMessage]) async {
        var readable: [(message: JetStreamMessage, result: ResultMessage)] = []
        // Whatever happens below, the writes of this batch's terminal messages are no longer in flight.
        defer {
            for (_, result) in readable where ModuleStateName(rawValue: result.state)?.isTerminal == true {
                ledger.ingesting.end(result.requestID)
            }
        }
        for message in messages {
            let known = message.headers["Nats-Msg-Id"].flatMap { id in decoded.withLock { $0.removeValue(forKey: id) } }
            guard let result = known ?? ResultMessage(json: message.payload), Self.step(result.state) != nil
            else {
                logger.warning("unreadable result message dropped", metadata: ["nats.subject": "\(message.subject)"])
                try? message.term()
                continue
            }
            readable.append((message, result))
        }
        guard let (message, result) = readable.max(by: { Self.step($0.result.state) ?? 0 < Self.step($1.result.state) ?? 0 }) else { return }
        do {
            // A consumer span continuing the agent's trace (its traceparent rode in the headers).
            try await withSpan("\(message.subject) process", context: message.headers.serviceContext(), ofKind: .consumer) { span in
                span.attributes["messaging.system"] = "nats"
                span.attributes["messaging.destination.name"] = message.subject
                span.attributes["imn.request.id"] = result.requestID
                span.attributes["imn.state"] = result.state
                span.attributes["messaging.batch.message_count"] = readable.count
                if ModuleStateName(rawValue: result.state)?.isTerminal == true {
                    // The result and the state are independent writes: side by side.
                    async let stored = store(Self.storeRequest(result))
                    let state = try await ledger.advance(result)
                    let storedRecord = try await stored
                    if let state { ledger.waiters.deliver(result.requestID, StateWaiters.Outcome(state: state, result: storedRecord)) }
                } else {
                    try await ledger.advance(result)
                }
            }
        } catch {
            metrics.ingestionFailed()
            logger.warning("ingestion failed; will retry", metadata: ["request.id": "\(result.requestID)", "error": "\(error)"])
            for (message, _) in readable { try? message.nak(delay: .seconds(1)) }
            return
        }
        // Stored: announce each change (waking waiters on other replicas), then acknowledge. A lost
        // acknowledgement only means a redelivery, which changes nothing.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for (message, result) in readable {
            LiveStateEvent(
                id: result.requestID, agentID: result.agentID, module: result.module, state: result.state, atMilliseconds: result.atMilliseconds,
                output: result.output, error: result.error
            ).announce(on: connection)
            try? message.ack()
            metrics.ingested(state: result.state, lagMilliseconds: now - result.atMilliseconds)
        }
    }

    /// A terminal message just fetched: JetStream holds it (the agent had its acknowledgement), so a
    /// `?wait` on that single run answers from it now, before its lane applies it; until the lane
    /// has, a read of the request waits for the writes (`IngestionInFlight`).
    func answerWaits(_ message: JetStreamMessage) {
        guard let result = ResultMessage(json: message.payload),
            ModuleStateName(rawValue: result.state)?.isTerminal == true
        else { return }
        if let id = message.headers["Nats-Msg-Id"] {
            decoded.withLock { decoded in
                if decoded.count > 10_000 { decoded.removeAll() }  // never applied (a shutdown): bounded
                decoded[id] = result
            }
        }
        ledger.ingesting.begin(result.requestID)
        ledger.waiters.deliverFetched(
            result.requestID, StateWaiters.Outcome(state: Self.fetchedState(result), result: Self.storeRequest(result).result))
    }

    /// The state a terminal message brings its run to, as the answer to a `?wait` shows it before
    /// DBOS has stored it (no version or history yet).
    static func fetchedState(_ result: ResultMessage) -> Imn_Dbos_V1_ModuleState {
        var state = Imn_Dbos_V1_ModuleState()
        state.requestID = result.requestID
        state.agentID = result.agentID
        state.module = result.module
        state.state = result.state
        state.detail = result.error ?? ""
        state.updatedMs = result.atMilliseconds
        return state
    }

    /// The StoreResult request of a terminal message.
    static func storeRequest(_ result: ResultMessage) -> Imn_Dbos_V1_StoreResultRequest {
        var request = Imn_Dbos_V1_StoreResultRequest()
        request.result.requestID = result.requestID
        request.result.agentID = result.agentID
        request.result.module = result.module
        request.result.status = result.state
        let payload: JSONValue = result.output ?? ["error": result.error.map(JSONValue.string) ?? .null]
        request.result.payload = Data(payload.bytes)
        request.result.startedMs = result.startedAtMilliseconds ?? 0
        request.result.finishedMs = result.finishedAtMilliseconds ?? 0
        request.result.metadata.agentStartTimeMs = result.agentStartedAtMilliseconds
        request.result.metadata.agentRuntimeVersion = result.agentVersion
        request.result.metadata.moduleRevision = result.moduleVersion
        request.result.metadata.ingestSource = "jetstream"
        return request
    }

    /// Stores a terminal message's result; returns the stored record (nil when it was stored and
    /// deleted since).
    func store(_ request: Imn_Dbos_V1_StoreResultRequest) async throws -> Imn_Dbos_V1_Result? {
        do {
            return try await ledger.dbos.storeResultStreamed(request).result
        } catch let error as RPCError where error.code == .alreadyExists {
            return nil  // stored once and deleted since: nothing to do
        }
    }
}
