import Archive
import ArgumentParser
import Foundation
import IMNCore
import IMNTestSupport
import Logging
import NATSClient

/// Issue 21's figures: how fast one server's archiver moves terminal results from JetStream into
/// ClickHouse (goal ≥ 50,000 results/s), and how long a month of history takes on 10 million rows.
struct ArchiveBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Archive throughput (JetStream → ClickHouse) and a month-of-history query on generated rows.")

    @Option(help: "Terminal ping results published into JetStream, then archived.") var results = 200_000
    @Option(help: "Rows generated in ClickHouse for the history query (spread over 30 days).") var rows = 10_000_000
    @Option(help: "Rows per INSERT, at most (the archiver's default unless given).") var batchSize: Int?

    func run() async throws {
        let results = self.results
        let rows = self.rows
        let batchSize = self.batchSize
        try await withNATSServer { nats in
            try await withClickHouseServer { clickHouseServer in
                let connection = try await NATSConnection.connect(NATSConfiguration(url: nats.natsURL))
                try await connection.jetStream.createOrUpdateStream(.imnResults)
                let clickHouse = try ClickHouseClient(url: clickHouseServer.clickHouseURL, database: "imn")
                let version = String(decoding: try await clickHouse.execute("SELECT version()", settings: ["database": "default"]), as: UTF8.self)
                print(
                    "nats-server on \(nats.port), clickhouse-server \(version.trimmingCharacters(in: .whitespacesAndNewlines)) on \(clickHouseServer.port)"
                )

                let published = try await rate(results) { try await Self.publish(results, connection) }
                print("published \(results) terminal ping results into JetStream: \(format(published))/s")

                var logger = Logger(label: "bench.archive")
                logger.logLevel = .warning
                var configuration = ResultArchiver.Configuration(url: clickHouseServer.clickHouseURL)
                configuration.batchSize = batchSize ?? configuration.batchSize
                let archiver = try ResultArchiver(configuration: configuration, connection: connection, logger: logger) { _ in
                    AgentLocation(continent: "EU", country: "DE", city: "Berlin", asn: 3320, tags: ["eyeball"])
                }
                let cpu = ProcessCPU([("archiver", getpid()), ("clickhouse", clickHouseServer.pid ?? 0), ("nats", nats.pid ?? 0)])
                let clock = ContinuousClock()
                let start = clock.now
                let running = Task { await archiver.run() }
                var archived = 0
                while archived < results {
                    try await Task.sleep(for: .milliseconds(100))
                    let body = try await clickHouse.execute("SELECT count() AS n FROM results FORMAT JSONEachRow")
                    archived = Int(try ClickHouseClient.rows(body).first?["n"]?.numberValue ?? 0)
                    if clock.now - start > .seconds(600) { break }
                }
                let elapsed = clock.now - start
                running.cancel()
                _ = await running.value
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                print(
                    "archived \(archived) of \(results) in \(String(format: "%.2f", seconds)) s: \(format(Double(archived) / seconds)) results/s "
                        + "(goal ≥ 50,000/s; includes the schema's creation and the first fetch)")
                cpu.printTable(runs: archived, seconds: seconds)

                try await Self.monthQuery(clickHouse, rows: rows)
                await connection.close()
            }
        }
    }

    /// Publishes `count` terminal ping results as agents do, 1,000 per batch.
    static func publish(_ count: Int, _ connection: NATSConnection) async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for chunk in stride(from: 0, to: count, by: 1000) {
            let messages = (chunk..<min(chunk + 1000, count)).map { index in
                var message = ResultMessage(
                    requestID: "bench-\(index)", agentID: "agent_\(index % 100)", module: "ping_module", moduleVersion: "1", state: "completed",
                    atMilliseconds: now - Int64(index), agentStartedAtMilliseconds: 0, agentVersion: "bench")
                message.startedAtMilliseconds = message.atMilliseconds - 2000
                message.finishedAtMilliseconds = message.atMilliseconds
                let rtts = (0..<3).map { Double((index + $0 * 7) % 400) / 10 + 0.5 }
                message.output = [
                    "host": .string("192.0.2.\(index % 200)"), "address": .string("192.0.2.\(index % 200)"), "sent": 3, "received": 3, "loss": 0,
                    "packets": .array(rtts.enumerated().map { ["seq": .number(Double($0 + 1)), "rtt_ms": .number($1), "ttl": 64] }),
                    "min_ms": .number(rtts.min() ?? 0), "avg_ms": .number(rtts.reduce(0, +) / 3), "max_ms": .number(rtts.max() ?? 0),
                ]
                var headers = NATSHeaders()
                headers.add("Nats-Msg-Id", "\(message.requestID):completed")
                return NATSOutgoing(
                    subject: Subjects.result(agent: message.agentID, module: "ping_module"), payload: message.jsonBytes, headers: headers)
            }
            for outcome in await connection.jetStream.publish(messages, timeout: .seconds(30)) { _ = try outcome.get() }
        }
    }

    /// `rows` generated rows over the 30 days before now (1,000 agents in 50 countries, 200
    /// targets, 3 RTTs each), then a month of hourly history per country for one module, as
    /// `GET /history` asks it.
    static func monthQuery(_ clickHouse: ClickHouseClient, rows: Int) async throws {
        let now = Int64(Date().timeIntervalSince1970)
        let from = now - 30 * 86_400
        let generate = """
            INSERT INTO results (request_id, agent_id, module, module_version, state, target, address, time, time_ms, country, asn, sent, received, rtts, output)
            SELECT concat('gen-', toString(number)), concat('agent_', toString(number % 1000)), 'ping_module', '1',
            if(number % 97 = 0, 'error', 'completed'), concat('198.51.100.', toString(number % 200)), '',
            toDateTime(\(from) + intDiv(number * \(30 * 86_400), \(rows))), (\(from) + intDiv(number * \(30 * 86_400), \(rows))) * 1000,
            concat('C', toString(number % 50)), toUInt32(64500 + number % 300), 3, if(number % 31 = 0, 2, 3),
            [(number % 400) / 10 + 0.5, (number % 333) / 10 + 0.7, (number % 250) / 10 + 0.9], ''
            FROM system.numbers LIMIT \(rows)
            """
        let clock = ContinuousClock()
        let started = clock.now
        _ = try await clickHouse.execute(generate, timeout: .seconds(900))
        print("generated \(rows) rows over 30 days in \(clock.now - started)")
        let query = try HistoryQuery(["module": "ping_module", "from": "\(from)", "to": "\(now)", "step": "1h", "group_by": "country"], now: now)
        for attempt in 1...3 {
            let begin = clock.now
            let answer = try ClickHouseClient.rows(try await clickHouse.execute(query.sql, settings: HistoryQuery.settings, timeout: .seconds(120)))
            let series = try query.answer(answer)["series"]?.arrayValue?.count ?? 0
            print("month of history, hourly per country (\(series) groups, \(answer.count) points), run \(attempt): \(clock.now - begin)")
        }
        let narrow = try HistoryQuery(
            ["module": "ping_module", "from": "\(from)", "to": "\(now)", "step": "1h", "target": "198.51.100.7", "group_by": "agent"], now: now)
        let begin = clock.now
        let answer = try ClickHouseClient.rows(try await clickHouse.execute(narrow.sql, settings: HistoryQuery.settings, timeout: .seconds(120)))
        print("month of history for one target, hourly per agent (\(answer.count) points): \(clock.now - begin)")
    }
}
