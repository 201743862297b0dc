import CoreMetrics
import Foundation
import IMNCore
import Logging
import NATSClient

/// Copies every terminal result from the `IMN_RESULTS` stream into ClickHouse, exactly once:
/// a durable JetStream consumer of its own (`imn-archive`, shared by server replicas) whose
/// messages are acknowledged only after ClickHouse confirmed their batch. ClickHouse down or
/// refusing leaves them unacknowledged: they come back after a delay, so an outage delays the
/// archive and loses nothing (the stream keeps results 7 days).
///
/// Exactly once: a message delivered for the first time cannot be in ClickHouse yet (only this
/// consumer writes the table), so first deliveries are inserted as they are; a batch holding
/// redelivered messages (after a crash, a lost acknowledgement, an outage mid-insert) first asks
/// ClickHouse which of their request ids it already has and leaves those out. What this cannot
/// see — two replicas inserting one message at once after an acknowledgement wait ran out, or an
/// agent re-sending a result after JetStream's 10-minute duplicate window — the table's
/// `ReplacingMergeTree` folds when parts merge.
public final class ResultArchiver: Sendable {
    public struct Configuration: Sendable {
        public var url: String
        public var database = "imn"
        /// Rows per INSERT, at most: ClickHouse writes a part per INSERT, so large batches
        /// cost it least (20,000 rows: 0.006 ms a row, 5,000: 0.013–0.02).
        public var batchSize = 20_000
        /// Bytes of messages per batch, at most (a batch is in memory three times: fetched, read, stored).
        public var batchBytes = 16 * 1024 * 1024
        /// How long a fetch waits for its first message.
        public var fetchWait: Duration = .milliseconds(500)
        /// Before a batch ClickHouse did not take is offered again.
        public var retryDelay: Duration = .seconds(2)
        /// An output longer than this is archived as a note saying so (the row keeps its figures).
        public var maxOutputBytes = 256 * 1024

        public init(url: String) { self.url = url }
    }

    public let client: ClickHouseClient
    let configuration: Configuration
    let connection: NATSConnection
    let location: @Sendable (String) -> AgentLocation?
    let logger: Logger
    let factory: any MetricsFactory

    /// `location`: an agent's location as the server last heard it, by agent id.
    public init(
        configuration: Configuration, connection: NATSConnection, factory: any MetricsFactory = NOOPMetricsHandler.instance, logger: Logger,
        location: @escaping @Sendable (String) -> AgentLocation?
    ) throws(ClickHouseError) {
        client = try ClickHouseClient(url: configuration.url, database: configuration.database)
        self.configuration = configuration
        self.connection = connection
        self.location = location
        self.logger = logger
        self.factory = factory
    }

    /// Makes the database and table when they are missing.
    public func prepare() async throws(ClickHouseError) {
        _ = try await client.execute(ArchiveSchema.createDatabase(client.database), settings: ["database": "default"])
        _ = try await client.execute(ArchiveSchema.createTable(client.database))
    }

    public func run() async {
        var consumerConfiguration = JetStreamConsumerConfiguration(durableName: "imn-archive", filterSubject: Subjects.allResults)
        consumerConfiguration.ackWait = .seconds(60)
        consumerConfiguration.maxDeliver = -1  // an outage of any length: the stream's age limit is the bound
        consumerConfiguration.maxAckPending = configuration.batchSize * 4  // three batches in flight
        var consumer: JetStreamPullConsumer?
        var prepared = false
        while (consumer == nil || !prepared) && !Task.isCancelled {
            do {
                if !prepared {
                    try await prepare()
                    prepared = true
                    logger.info("archive ready", metadata: ["clickhouse": "\(client.address)", "table": "\(client.database).\(ArchiveSchema.table)"])
                }
                try await connection.jetStream.createOrUpdateStream(.imnResults)
                consumer = try await connection.jetStream.pullConsumer(stream: Subjects.resultsStream, configuration: consumerConfiguration)
            } catch {
                logger.warning("archive not ready; trying again", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: configuration.retryDelay)
            }
        }
        guard let consumer else { return }
        defer { consumer.close() }
        let (batchSize, batchBytes, fetchWait) = (configuration.batchSize, configuration.batchBytes, configuration.fetchWait)
        // Three batches at once, each stage on its own: the newest fetched from JetStream, the
        // one before read into rows, the oldest stored (what is fetched and never stored at a
        // shutdown comes back after the ack wait). Fetches follow one another.
        let fetch = { @Sendable (previous: Task<[JetStreamMessage], Never>?) in
            _ = await previous?.value
            return (try? await consumer.fetch(batch: batchSize, maxBytes: batchBytes, timeout: fetchWait)) ?? []
        }
        var fetching = Task { await fetch(nil) }
        var reading = Task { [fetching] in self.batch(await fetching.value) }
        fetching = Task { [fetching] in await fetch(fetching) }
        while !Task.isCancelled {
            let batch = await reading.value
            reading = Task { [fetching] in self.batch(await fetching.value) }
            fetching = Task { [fetching] in await fetch(fetching) }
            if !batch.rows.isEmpty { await archive(batch) }
        }
        // Stopping: what was fetched or read and not stored goes back at once (for another
        // replica, or the next start), and nothing fetches once the consumer is closed.
        for entry in await reading.value.rows { try? entry.message.nak() }
        for message in await fetching.value { try? message.nak() }
    }

    /// A terminal result's message and its row.
    struct Entry: Sendable {
        var message: JetStreamMessage
        var row: ArchiveRow
    }

    /// A fetched batch read: its terminal results' rows and their INSERT's body.
    struct Batch: Sendable {
        var rows: [Entry]
        var body: [UInt8]
    }

    /// One read batch stored: its messages acknowledged after ClickHouse took their rows (the
    /// transitions that are not terminal were acknowledged when it was read).
    func archive(_ batch: Batch) async {
        let rows = batch.rows
        do {
            // Usually every row is new and the body read with the batch goes as it is; rows
            // ClickHouse already has, or twice in the batch, are left out of a body made anew.
            var seen = try await alreadyStored(rows)
            var fresh: [ArchiveRow]?
            if !seen.isEmpty || Set(rows.lazy.map(\.row.requestID)).count < rows.count {
                fresh = rows.lazy.map(\.row).filter { seen.insert($0.requestID).inserted }
            }
            let stored = fresh?.count ?? rows.count
            var rejected: Set<String> = []
            do {
                if let fresh {
                    if !fresh.isEmpty { try await insert(fresh) }
                } else {
                    try await insert(body: batch.body)
                }
            } catch .refused {
                // ClickHouse answered, and refused: find the rows it will not take, one by one,
                // so that one bad row does not hold its batch back for ever.
                rejected = try await insertOneByOne(fresh ?? rows.map(\.row))
            }
            Counter(label: "imn_archive_rows_total", factory: factory).increment(by: stored - rejected.count)
            if rows.count > stored {
                Counter(label: "imn_archive_duplicates_skipped_total", factory: factory).increment(by: rows.count - stored)
            }
            let now = Int64(Date.now.timeIntervalSince1970 * 1000)
            if let oldest = rows.lazy.map(\.row.timeMilliseconds).min() {
                Timer(label: "imn_archive_lag_seconds", factory: factory).recordMilliseconds(max(0, now - oldest))
            }
            for entry in rows {
                if rejected.contains(entry.row.requestID) { try? entry.message.term() } else { try? entry.message.ack() }
            }
        } catch {
            Counter(label: "imn_archive_failures_total", factory: factory).increment()
            logger.warning(
                "archive batch not stored; it will be offered again",
                metadata: ["rows": "\(rows.count)", "error": "\(error)", "retry.after": "\(configuration.retryDelay)"])
            for entry in rows { try? entry.message.nak(delay: configuration.retryDelay) }
        }
    }

    /// Each row in an INSERT of its own; answers the request ids ClickHouse refused (logged and
    /// counted; their messages are then terminated). ClickHouse becoming unreachable ends it with
    /// that error, and the whole batch is offered again.
    func insertOneByOne(_ rows: [ArchiveRow]) async throws(ClickHouseError) -> Set<String> {
        var rejected: Set<String> = []
        for row in rows {
            do {
                try await insert([row])
            } catch .refused(let status, let message) {
                rejected.insert(row.requestID)
                Counter(label: "imn_archive_rejected_total", factory: factory).increment()
                logger.error(
                    "ClickHouse refused a result; it is not archived",
                    metadata: ["request.id": "\(row.requestID)", "module": "\(row.module)", "status": "\(status)", "error": "\(message)"])
            }
        }
        return rejected
    }

    /// The rows of terminal results and their INSERT's body; other transitions are acknowledged
    /// at once, unreadable messages terminated.
    func batch(_ messages: [JetStreamMessage]) -> Batch {
        var rows: [Entry] = []
        rows.reserveCapacity(messages.count)
        var body: [UInt8] = []
        body.reserveCapacity(messages.reduce(0) { $0 + $1.message.payload.count })
        for message in messages {
            let read = message.message.payload.withUnsafeBufferPointer { ArchiveRow(json: $0) }
            guard var row = read, let state = ModuleStateName(rawValue: row.state) else {
                logger.warning("unreadable result message not archived", metadata: ["nats.subject": "\(message.subject)"])
                try? message.term()
                continue
            }
            guard state.isTerminal else {
                try? message.ack()
                continue
            }
            row.location = location(row.agentID) ?? AgentLocation()
            write(row, into: &body)
            rows.append(Entry(message: message, row: row))
        }
        return Batch(rows: rows, body: body)
    }

    /// The request ids of this batch's redelivered messages that ClickHouse already has.
    func alreadyStored(_ rows: [Entry]) async throws(ClickHouseError) -> Set<String> {
        let again = rows.filter { $0.message.metadata.deliveryCount > 1 }.map(\.row)
        guard let first = again.map(\.timeMilliseconds).min(), let last = again.map(\.timeMilliseconds).max() else { return [] }
        let ids = Set(again.map(\.requestID)).map(ClickHouseClient.literal).joined(separator: ",")
        let modules = Set(again.map(\.module)).map(ClickHouseClient.literal).joined(separator: ",")
        let query = """
            SELECT DISTINCT request_id FROM \(ArchiveSchema.table)
            WHERE module IN (\(modules)) AND time >= toDateTime(\(first / 1000)) AND time <= toDateTime(\(last / 1000))
            AND request_id IN (\(ids)) FORMAT JSONEachRow
            """
        let answer = try await client.execute(query)
        return Set(try ClickHouseClient.rows(answer).compactMap { $0["request_id"]?.stringValue })
    }

    func insert(_ rows: [ArchiveRow]) async throws(ClickHouseError) { try await insert(body: body(rows)) }

    private func insert(body: [UInt8]) async throws(ClickHouseError) {
        let columns = ArchiveRow.columns.joined(separator: ", ")
        _ = try await client.execute("INSERT INTO \(ArchiveSchema.table) (\(columns)) FORMAT RowBinary", body: body, timeout: .seconds(50))
    }

    /// The rows in `RowBinary`.
    private func body(_ rows: [ArchiveRow]) -> [UInt8] {
        var body: [UInt8] = []
        for row in rows { write(row, into: &body) }
        return body
    }

    /// A row in `RowBinary`, an output over the limit replaced by a note saying so.
    private func write(_ row: ArchiveRow, into body: inout [UInt8]) {
        let size = row.output.utf8.count
        let note =
            size > configuration.maxOutputBytes
            ? JSONValue.object([
                "not_archived": .string("the output is \(size) bytes, over the archive's limit of \(configuration.maxOutputBytes)")
            ]).text : nil
        row.writeRowBinary(into: &body, output: note)
    }
}
