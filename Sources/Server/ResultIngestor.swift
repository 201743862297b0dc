import DBOS
import Foundation
import GRPCCore
import IMNCore
import Logging
import NATSClient

/// Moves results and state transitions from the `IMN_RESULTS` stream into DBOS: a durable pull
/// consumer shared by every server replica; a message is acknowledged only after DBOS confirmed
/// it, and NAKed with a delay otherwise. Missing intermediate states are applied in order, and
/// late duplicates change nothing (DBOS's version and order checks decide).
final class ResultIngestor: Sendable {
    let connection: NATSConnection
    let dbos: DBOSClient
    let actor: String
    let logger: Logger

    init(connection: NATSConnection, dbos: DBOSClient, actor: String, logger: Logger) {
        self.connection = connection
        self.dbos = dbos
        self.actor = actor
        self.logger = logger
    }

    static let order = ["created": 0, "started": 1, "running": 2, "completed": 3, "error": 3, "failed": 3]

    func run() async {
        var configuration = JetStreamConsumerConfiguration(durableName: "imn-server", filterSubject: Subjects.allResults)
        configuration.ackWait = .seconds(30)
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
            for message in messages { await apply(message) }
        }
    }

    func apply(_ message: JetStreamMessage) async {
        guard let result = try? JSONDecoder().decode(ResultMessage.self, from: Data(message.payload)), Self.order[result.state] != nil else {
            logger.warning("unreadable result message dropped", metadata: ["nats.subject": "\(message.subject)"])
            try? message.term()
            return
        }
        do {
            if Self.order[result.state] == 3 { try await store(result) }
            try await advance(result)
            try await message.ackSync()
        } catch {
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

    /// Brings the stored state up to `result.state`, applying skipped states in order.
    func advance(_ result: ResultMessage) async throws {
        guard let target = Self.order[result.state] else { return }
        for _ in 0..<8 {
            var get = Imn_Dbos_V1_GetModuleStateRequest()
            get.requestID = result.requestID
            let current: Imn_Dbos_V1_ModuleState?
            do {
                current = try await dbos.getModuleState(get)
            } catch let error as RPCError where error.code == .notFound {
                current = nil
            }
            let state = current?.state ?? ""
            let level = Self.order[state] ?? -1
            if level >= target { return }  // already there (a duplicate) or past it (late)
            var next: String
            switch (state, result.state) {
            case ("", _): next = "created"
            case (_, "failed"): next = "failed"  // failed may end any state
            default: next = ["created", "started", "running"][level + 1 < 3 ? level + 1 : 2]
            }
            if level == 2 { next = result.state }
            var set = Imn_Dbos_V1_SetModuleStateRequest()
            set.requestID = result.requestID
            set.agentID = result.agentID
            set.module = result.module
            set.state = next
            set.expectedVersion = current?.version ?? 0
            set.actor = actor
            set.detail = next == result.state ? (result.error ?? "") : ""
            do {
                _ = try await dbos.setModuleState(set)
                if next == result.state { return }
            } catch let error as RPCError where error.code == .aborted || error.code == .failedPrecondition {
                continue  // someone else moved it; look again
            }
        }
    }
}
