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
/// it, and NAKed with a delay otherwise. Missing intermediate states are applied in order, and
/// late duplicates change nothing (DBOS's version and order checks decide). Each applied change is
/// announced on `imn.live.state`, which wakes `?wait=` requests on every replica.
final class ResultIngestor: Sendable {
    let connection: NATSConnection
    let dbos: DBOSClient
    let actor: String
    let metrics: ServerMetrics
    let logger: Logger
    private let previous = Mutex<[String: (state: String, version: Int64)]>([:])

    init(connection: NATSConnection, dbos: DBOSClient, actor: String, metrics: ServerMetrics, logger: Logger) {
        self.connection = connection
        self.dbos = dbos
        self.actor = actor
        self.metrics = metrics
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
        while !Task.isCancelled {
            let messages = (try? await consumer.fetch(batch: 64, timeout: .milliseconds(500))) ?? []
            // Requests are independent: apply them side by side, each one's transitions in order.
            var byRequest: [String: [JetStreamMessage]] = [:]
            var order: [String] = []
            for message in messages {
                let key = message.headers["Nats-Msg-Id"].map { String($0.prefix { $0 != ":" }) } ?? "\(message.subject)#\(order.count)"
                if byRequest[key] == nil { order.append(key) }
                byRequest[key, default: []].append(message)
            }
            await withDiscardingTaskGroup { group in
                for key in order {
                    let batch = byRequest[key] ?? []
                    group.addTask { for message in batch { await self.apply(message) } }
                }
            }
        }
    }

    func apply(_ message: JetStreamMessage) async {
        guard let result = try? JSONDecoder().decode(ResultMessage.self, from: Data(message.payload)), Self.step(result.state) != nil else {
            logger.warning("unreadable result message dropped", metadata: ["nats.subject": "\(message.subject)"])
            try? message.term()
            return
        }
        do {
            // A consumer span continuing the agent's trace (its traceparent rode in the headers).
            try await withSpan("\(message.subject) process", context: message.headers.serviceContext(), ofKind: .consumer) { span in
                span.attributes["messaging.system"] = "nats"
                span.attributes["messaging.destination.name"] = message.subject
                span.attributes["imn.request.id"] = result.requestID
                span.attributes["imn.state"] = result.state
                if ModuleStateName(rawValue: result.state)?.isTerminal == true { try await store(result) }
                try await advance(result)
                try await message.ackSync()
            }
            metrics.ingested(state: result.state, lagMilliseconds: Int64(Date().timeIntervalSince1970 * 1000) - result.atMilliseconds)
            let event = LiveStateEvent(
                id: result.requestID, agentID: result.agentID, module: result.module, state: result.state, atMilliseconds: result.atMilliseconds)
            if let body = try? JSONEncoder().encode(event) { try? connection.publish(LiveStateEvent.subject, payload: Array(body)) }
        } catch {
            metrics.ingestionFailed()
            logger.warning("ingestion failed; will retry", metadata: ["request.id": "\(result.requestID)", "error": "\(error)"])
            try? message.nak(delay: .seconds(1))
        }
    }

    func store(_ result: ResultMessage) async throws {
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
        do {
            _ = try await dbos.storeResult(request)
        } catch let error as RPCError where error.code == .alreadyExists {
            return  // stored once and deleted since: nothing to do
        }
    }

    /// Brings the stored state up to `result.state`, applying skipped states in order. It writes
    /// without reading first: the usual case is the state just before (the server created the
    /// request at version 1, then each transition adds one), and a conflict hands back the
    /// current state to continue from.
    func advance(_ result: ResultMessage) async throws {
        guard let target = Self.step(result.state) else { return }
        let guessed = previous.withLock { $0[result.requestID] }
        var state = guessed?.state ?? "created"
        var version = guessed?.version ?? 1
        for _ in 0..<10 {
            let level = Self.step(state) ?? -1
            if level >= target { return }  // already there (a duplicate) or past it (late)
            var next: String
            switch (state, result.state) {
            case ("", _): next = "created"
            case (_, "failed"): next = "failed"  // failed may end any state
            default: next = level == 2 ? result.state : ModuleStateName.allCases[level + 1].rawValue
            }
            var set = Imn_Dbos_V1_SetModuleStateRequest()
            set.requestID = result.requestID
            set.agentID = result.agentID
            set.module = result.module
            set.state = next
            set.expectedVersion = version
            set.actor = actor
            set.detail = next == result.state ? (result.error ?? "") : ""
            do {
                let stored = try await dbos.setModuleState(set)
                (state, version) = (stored.state, stored.version)
                remember(result.requestID, state: state, version: version)
                if next == result.state { return }
            } catch let error as RPCError where error.code == .aborted || error.code == .failedPrecondition || error.code == .notFound {
                // Someone else moved it, or it is not there yet: continue from what is stored.
                let current: Imn_Dbos_V1_ModuleState?
                if error.code == .notFound {
                    current = nil
                } else if let carried = DBOSClient.currentState(in: error) {
                    current = carried
                } else {
                    var get = Imn_Dbos_V1_GetModuleStateRequest()
                    get.requestID = result.requestID
                    do { current = try await dbos.getModuleState(get) } catch let error as RPCError where error.code == .notFound { current = nil }
                }
                (state, version) = (current?.state ?? "", current?.version ?? 0)
            }
        }
    }

    /// The last state this replica stored per request (a small cache: a miss costs one conflict).
    func remember(_ requestID: String, state: String, version: Int64) {
        previous.withLock { previous in
            if ModuleStateName(rawValue: state)?.isTerminal == true {
                previous[requestID] = nil
                return
            }
            if previous.count > 10_000 { previous.removeAll(keepingCapacity: true) }
            previous[requestID] = (state, version)
        }
    }
}
