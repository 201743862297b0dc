import Archive
import Foundation
import IMNCore
import IMNTestSupport
import Logging
import NATSClient
import Prometheus
import Testing

/// The ClickHouse archive with real servers: 10,000 results archived exactly once across a
/// ClickHouse restart and an `imn server` killed with -9, and `GET /history` answering what the
/// raw results give.
@Suite(
    .enabled(
        if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable && ServerBinaries.clickHouseAvailable && ServerBinaries.imn != nil,
        "redis-server, nats-server, clickhouse-server and the built imn binary are needed: run scripts/test"))
struct ArchiveTests {
    /// 1 November 2026, 00:00 UTC: the archived runs spread over that day.
    static let day: Int64 = 1_793_491_200

    /// A terminal ping result as an agent publishes it, with made-up RTTs (some lost) from `index`.
    static func result(_ index: Int) -> (message: ResultMessage, rtts: [Double], sent: Int) {
        let agent = index % 2 == 0 ? "agent_1" : "agent_2"
        var message = ResultMessage(
            requestID: "arch-\(index)", agentID: agent, module: "ping_module", moduleVersion: "1", state: index % 50 == 7 ? "error" : "completed",
            atMilliseconds: (day + Int64(index) * 8) * 1000 + 5, agentStartedAtMilliseconds: 0, agentVersion: "test")
        message.finishedAtMilliseconds = message.atMilliseconds
        message.startedAtMilliseconds = message.atMilliseconds - 2000
        let rtts: [Double?] = (0..<3).map { packet in (index + packet) % 13 == 0 ? nil : Double((index * 7 + packet * 3) % 97) / 10 + 0.25 }
        message.output = [
            "host": .string("192.0.2.\(index % 3)"), "address": .string("192.0.2.\(index % 3)"), "sent": 3,
            "received": .number(Double(rtts.compactMap { $0 }.count)),
            "packets": .array(rtts.map { ["rtt_ms": $0.map(JSONValue.number) ?? .null] }),
        ]
        return (message, rtts.compactMap { $0 }, 3)
    }

    static func publish(_ range: Range<Int>, _ connection: NATSConnection) async throws {
        for chunk in stride(from: range.lowerBound, to: range.upperBound, by: 500) {
            let messages = (chunk..<min(chunk + 500, range.upperBound)).map { index in
                let message = result(index).message
                var headers = NATSHeaders()
                headers.add("Nats-Msg-Id", "\(message.requestID):\(message.state)")
                return NATSOutgoing(
                    subject: Subjects.result(agent: message.agentID, module: message.module), payload: message.jsonBytes, headers: headers)
            }
            for outcome in await connection.jetStream.publish(messages, timeout: .seconds(10)) { _ = try outcome.get() }
        }
    }

    static func count(_ clickHouse: ClickHouseClient) async -> (rows: Int, ids: Int)? {
        guard let body = try? await clickHouse.execute("SELECT count() AS rows, uniqExact(request_id) AS ids FROM results FORMAT JSONEachRow"),
            let row = try? ClickHouseClient.rows(body).first
        else { return nil }
        return (Int(row["rows"]?.numberValue ?? 0), Int(row["ids"]?.numberValue ?? 0))
    }

    @Test(.timeLimit(.minutes(4))) func tenThousandResultsArchivedOnceAcrossAClickHouseRestartAndAServerKill9() async throws {
        try await EndToEndTests.withBackends { backends in
            try await withClickHouseServer { clickHouseServer in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-archive-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                let server = IMNProcesses.server(
                    port: FreePort.next(), natsURL: backends.natsURL, dbosAddress: backends.dbosAddress, directory: directory,
                    environment: ["IMN_CLICKHOUSE_URL": clickHouseServer.clickHouseURL, "OTEL_SDK_DISABLED": "true"])
                try await withServer(server) { server in
                    let connection = try await NATSConnection.connect(NATSConfiguration(url: backends.natsURL))
                    defer { Task { await connection.close() } }
                    let clickHouse = try ClickHouseClient(url: clickHouseServer.clickHouseURL, database: "imn")
                    try await Self.publish(0..<3000, connection)
                    #expect(await eventually(timeout: .seconds(60)) { (await Self.count(clickHouse))?.rows ?? 0 >= 1000 })
                    // ClickHouse goes away mid-stream: batches are offered again until it is back.
                    await clickHouseServer.kill9()
                    try await Self.publish(3000..<6000, connection)
                    try await Task.sleep(for: .seconds(3))
                    try await clickHouseServer.restart()
                    // The server is killed with -9 while archiving: what it held unacknowledged comes back.
                    #expect(await eventually(timeout: .seconds(60)) { (await Self.count(clickHouse))?.rows ?? 0 >= 4000 })
                    try await Self.publish(6000..<10_000, connection)
                    await server.kill9()
                    try await Task.sleep(for: .seconds(1))
                    try await server.restart()
                    // Unacknowledged messages return after the archive consumer's ack wait (60 s).
                    #expect(
                        await eventually(timeout: .seconds(150), poll: .milliseconds(500)) { (await Self.count(clickHouse))?.rows ?? 0 >= 10_000 })
                    try await Task.sleep(for: .seconds(2))
                    let counted = await Self.count(clickHouse)
                    #expect(counted?.rows == 10_000, "rows: \(String(describing: counted))")
                    #expect(counted?.ids == 10_000)
                    try await Self.expectHistoryMatchesTheRawResults(port: server.port)
                    try await Self.expectTheWebPageChartsIt(port: server.port, directory: directory)
                }
            }
        }
    }

    /// GET /history per hour and agent equals the same aggregates computed here from what was published.
    static func expectHistoryMatchesTheRawResults(port: Int) async throws {
        let reply = try await HTTP.request(
            "GET", port: port, path: "/history?module=ping_module&from=\(day)&to=\(day + 86_400)&step=1h&group_by=agent")
        #expect(reply.status == 200, "\(reply.body)")
        let series = reply.json?["series"]?.arrayValue ?? []
        #expect(series.count == 2)
        var expected: [String: [Int64: (runs: Int, failed: Int, sent: Int, received: Int, rtts: [Double])]] = [:]
        for index in 0..<10_000 {
            let (message, rtts, sent) = result(index)
            let bucket = (message.atMilliseconds / 1000) / 3600 * 3600
            var entry = expected[message.agentID, default: [:]][bucket] ?? (0, 0, 0, 0, [])
            entry.runs += 1
            entry.failed += message.state == "completed" ? 0 : 1
            entry.sent += sent
            entry.received += rtts.count
            entry.rtts += rtts
            expected[message.agentID, default: [:]][bucket] = entry
        }
        var points = 0
        for line in series {
            let agent = line["group"]?.stringValue ?? ""
            for point in line["points"]?.arrayValue ?? [] {
                points += 1
                let time = try #require(point["time"]?.stringValue.flatMap { ISO8601DateFormatter().date(from: $0) })
                let want = try #require(expected[agent]?[Int64(time.timeIntervalSince1970)])
                #expect(point["runs"]?.numberValue == Double(want.runs))
                #expect(point["failed"]?.numberValue == Double(want.failed))
                #expect(point["sent"]?.numberValue == Double(want.sent) && point["received"]?.numberValue == Double(want.received))
                let sorted = want.rtts.sorted()
                let rtt = point["rtt_ms"]
                #expect(rtt?["min"]?.numberValue == sorted.first && rtt?["max"]?.numberValue == sorted.last)
                #expect(abs((rtt?["avg"]?.numberValue ?? 0) - sorted.reduce(0, +) / Double(sorted.count)) < 1e-9)
                // quantileExact: the value at floor(level × n) of the sorted samples.
                #expect(rtt?["p50"]?.numberValue == sorted[min(sorted.count - 1, Int(0.5 * Double(sorted.count)))])
                #expect(rtt?["p95"]?.numberValue == sorted[min(sorted.count - 1, Int(0.95 * Double(sorted.count)))])
            }
        }
        #expect(points == expected.values.map(\.count).reduce(0, +))
    }

    /// The web page's history chart in headless Chromium: one p50 and one p95 line per agent.
    static func expectTheWebPageChartsIt(port: Int, directory: URL) async throws {
        guard let browser = ServerBinaries.find("chromium") else { return }
        let url = "http://127.0.0.1:\(port)/#history?module=ping_module&group_by=agent&from=\(day)&to=\(day + 86_400)&step=1h"
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000", "--user-data-dir=\(directory.path)/chromium"]
        let (status, dom) = try await offload { try runProgram(browser, flags + ["--dump-dom", url]) }
        #expect(status == 0)
        let chart = dom.range(of: #"<svg id="history-chart""#).map { String(dom[$0.lowerBound...]) }?.components(separatedBy: "</svg>").first ?? ""
        #expect(chart.components(separatedBy: #"class="p50""#).count - 1 == 2, "\(chart.prefix(400))")
        #expect(chart.components(separatedBy: #"class="p95""#).count - 1 == 2)
        #expect(dom.contains("■ agent_1") && dom.contains("■ agent_2"), "the legend names both agents")
    }

    @Test func historyWithoutTheArchiveIs501AndBadQueriesAre422() async throws {
        try await EndToEndTests.withStack { stack in
            let off = try await HTTP.request("GET", port: stack.port, path: "/history?module=ping_module")
            #expect(off.status == 501)
            #expect(off.json?["detail"]?.stringValue?.contains("--clickhouse-url") == true)
        }
        #expect(throws: HistoryQuery.Invalid.self) { try HistoryQuery(["module": "ping_module", "from": "10", "to": "5"], now: 100) }
        #expect(throws: HistoryQuery.Invalid.self) { try HistoryQuery(["module": "ping_module", "from": "0", "step": "1s"], now: 86_400 * 30) }
        #expect(throws: HistoryQuery.Invalid.self) { try HistoryQuery(["module": "ping_module", "group_by": "planet"], now: 100) }
        #expect(throws: HistoryQuery.Invalid.self) { try HistoryQuery(["module": "ping_module", "asn": "-3"], now: 100) }
        #expect(throws: HistoryQuery.Invalid.self) { try HistoryQuery(["module": "ping_module", "colour": "red"], now: 100) }
        #expect(throws: HistoryQuery.Invalid.self) { try HistoryQuery(["module": "ping_module", "from": "yesterday"], now: 100) }
        #expect(throws: HistoryQuery.Invalid.self) { try HistoryQuery(["module": "ping_module", "step": "999999999999999999d"], now: 100_000) }
        #expect(throws: HistoryQuery.Invalid.self) { try HistoryQuery(["module": "ping_module", "step": "\(Int64.max)"], now: 100_000) }
        #expect(throws: HistoryQuery.Invalid.self) { try HistoryQuery(["module": "ping_module", "to": "9223372036854775807"], now: 100) }
        #expect(throws: HistoryQuery.Invalid.self) { try HistoryQuery(["module": "ping_module", "from": "1900-01-01T00:00:00Z"], now: 100) }
        let week = try HistoryQuery(["module": "ping_module", "to": "2026-12-07T00:00:00Z", "country": "de"], now: 0)
        #expect(week.step == 300 && week.to - week.from == 86_400)
        #expect(week.sql.contains("country = 'DE'"))
        let quoted = try HistoryQuery(["module": "ping'); DROP TABLE results; --", "target": "a\\'b"], now: 100_000)
        #expect(quoted.sql.contains(#"module = 'ping\'); DROP TABLE results; --'"#))
        #expect(quoted.sql.contains(#"target = 'a\\\'b'"#))
    }
}

/// What each module's output becomes in the archive's typed columns, read in place as the tree reads it, and the RowBinary row.
struct ArchiveRowTests {
    static func message(_ module: String, _ output: JSONValue?, state: String = "completed") -> ResultMessage {
        var message = ResultMessage(
            requestID: "r\"1", agentID: "agent_1", module: module, moduleVersion: "1", state: state, atMilliseconds: 1_793_491_200_123,
            agentStartedAtMilliseconds: 0, agentVersion: "t")
        message.output = output
        message.error = output == nil ? "timed out\nafter 5 s" : nil
        return message
    }

    @Test func figuresByModule() throws {
        let ping = ArchiveRow(
            Self.message(
                "ping_module",
                [
                    "host": "example.net", "address": "192.0.2.1", "sent": 3, "received": 2,
                    "packets": [["rtt_ms": 1.5], ["rtt_ms": nil], ["rtt_ms": 2.5]],
                ]),
            location: AgentLocation(country: "DE", asn: 3320, tags: ["eyeball", "ipv6"]))
        #expect(ping.target == "example.net" && ping.sent == 3 && ping.received == 2 && ping.rtts == [1.5, 2.5])
        let tcping = ArchiveRow(
            Self.message("tcping", ["host": "h", "sent": 2, "connected": 1, "attempts": [["connect_ms": 3.0], ["detail": "refused"]]]), location: nil)
        #expect(tcping.rtts == [3.0] && tcping.received == 1)
        let http = ArchiveRow(
            Self.message(
                "http", ["url": "https://x/", "status": 200, "timings_ms": ["resolve": 1, "connect": 2, "tls": 3, "first_byte": 5, "total": 9]]),
            location: nil)
        #expect(http.target == "https://x/" && http.httpStatus == 200 && http.rtts == [9] && http.phases["tls"] == 3)
        let dns = ArchiveRow(Self.message("dns", ["name": "example.org", "rcode": "NOERROR", "query_time_ms": 4.25]), location: nil)
        #expect(dns.target == "example.org" && dns.rtts == [4.25] && dns.received == 1)
        let trace = ArchiveRow(Self.message("traceroute", ["host": "h", "hop_count": 7, "reached": true, "hops": []]), location: nil)
        #expect(trace.hops == 7 && trace.reached)
        let failed = ArchiveRow(Self.message("ping_module", nil, state: "failed"), location: nil)
        #expect(failed.target == "" && failed.output == "" && failed.error.contains("timed out"))

        var bytes: [UInt8] = []
        ping.writeRowBinary(into: &bytes)
        #expect(Array(bytes.prefix(5)) == [3, UInt8(ascii: "r"), UInt8(ascii: "\""), UInt8(ascii: "1"), 7])  // lengths, then text
        #expect(bytes.suffix(ping.output.utf8.count) == ArraySlice(ping.output.utf8))
    }

    /// The figures as a tree of the message gives them: what the in-place reader must agree with.
    static func oracle(_ bytes: [UInt8]) -> ArchiveRow? {
        guard let result = ResultMessage(json: bytes) else { return nil }
        var row = ArchiveRow(result, location: nil)
        // Every column again, from the tree.
        (row.requestID, row.agentID, row.module, row.moduleVersion, row.state) =
            (result.requestID, result.agentID, result.module, result.moduleVersion, result.state)
        row.timeMilliseconds = min(max(result.finishedAtMilliseconds ?? result.atMilliseconds, 0), 4_294_967_295_000)
        row.durationMilliseconds = nil
        if let started = result.startedAtMilliseconds, let finished = result.finishedAtMilliseconds {
            let (duration, overflow) = finished.subtractingReportingOverflow(started)
            row.durationMilliseconds = overflow ? nil : Double(duration)
        }
        row.error = result.error ?? ""
        row.output = result.output?.text ?? ""
        let count = { (value: Double?, limit: Double) -> Int in
            guard let value, value.isFinite else { return 0 }
            return Int(min(max(value.rounded(), 0), limit))
        }
        let (u32, u16) = (Double(UInt32.max), Double(UInt16.max))
        (row.rtts, row.sent, row.received, row.hops, row.reached, row.httpStatus, row.phases) = ([], 0, 0, 0, false, 0, [:])
        guard let output = result.output else { return row }
        row.target = output["host"]?.stringValue ?? output["url"]?.stringValue ?? output["name"]?.stringValue ?? ""
        row.address = output["address"]?.stringValue ?? ""
        let number = { (key: String) in output[key]?.numberValue }
        switch result.module {
        case "ping_module":
            row.rtts = output["packets"]?.arrayValue?.compactMap { $0["rtt_ms"]?.numberValue } ?? []
            row.sent = count(number("sent"), u32)
            row.received = count(number("received") ?? Double(row.rtts.count), u32)
        case "tcping":
            row.rtts = output["attempts"]?.arrayValue?.compactMap { $0["connect_ms"]?.numberValue } ?? []
            row.sent = count(number("sent"), u32)
            row.received = count(number("connected") ?? Double(row.rtts.count), u32)
        case "dns":
            if let time = number("query_time_ms") { row.rtts = [time] }
            row.sent = 1
            row.received = output.objectValue?.keys.contains("rcode") == true ? 1 : 0
        case "http":
            for (key, value) in output["timings_ms"]?.objectValue ?? [:] { if let value = value.numberValue { row.phases[key] = value } }
            if let total = row.phases["total"] { row.rtts = [total] }
            row.httpStatus = count(number("status"), u16)
            row.sent = 1
            row.received = row.httpStatus > 0 ? 1 : 0
        case "traceroute", "mtr":
            row.hops = count(number("hop_count"), u16)
            row.reached = output["reached"]?.boolValue ?? false
            if result.module == "mtr", let last = output["hops"]?.arrayValue?.last {
                row.sent = count(last["sent"]?.numberValue, u32)
                row.received = row.reached ? count(last["received"]?.numberValue, u32) : 0
            }
        default:
            break
        }
        return row
    }

    /// The archive reads result messages in place, without a tree: on thousands of generated
    /// messages — every module, figures of every JSON type, duplicate keys, broken documents —
    /// it reads what `ResultMessage(json:)` and the tree give.
    @Test func theInPlaceReadingAgreesWithTheTree() throws {
        var generator = SplitMix(seed: 2121)
        let scalars: [String] = ["1", "2.5", "-3", "1e3", "70000", "1e20", "\"7\"", "null", "true", "false", "[]", "{}", "[1,{\"rtt_ms\":2}]"]
        func pick(_ values: [String]) -> String { values.randomElement(using: &generator)! }
        func member(_ key: String, _ value: String) -> String { "\"\(key)\":\(value)" }
        let modules = ["ping_module", "tcping", "dns", "http", "traceroute", "mtr", "echo_module"]
        var checked = 0
        for index in 0..<5_000 {
            let module = pick(modules)
            var members: [String] = []
            for key in [
                "host", "url", "name", "address", "sent", "received", "connected", "query_time_ms", "rcode", "status", "hop_count", "reached",
            ]
            where Bool.random(using: &generator) {
                members.append(member(key, Bool.random(using: &generator) ? "\"h\(index)\"" : pick(scalars)))
            }
            let element = { (key: String) in "{" + member(key, pick(scalars)) + (Bool.random(using: &generator) ? "," + member(key, "9") : "") + "}" }
            members.append(member("packets", "[" + (0..<3).map { _ in element("rtt_ms") }.joined(separator: ",") + "]"))
            members.append(member("attempts", "[" + element("connect_ms") + ",\"x\"]"))
            members.append(member("timings_ms", "{" + ["total", "tls", "connect"].map { member($0, pick(scalars)) }.joined(separator: ",") + "}"))
            members.append(member("hops", "[" + element("sent") + "," + element("received") + "]"))
            members.shuffle(using: &generator)
            if Bool.random(using: &generator), let first = members.first { members.append(first.replacingOccurrences(of: ":", with: ":0,\"_\":")) }
            var fields = [
                member("request_id", "\"r\\u0031\(index)\""), member("agent_id", "\"a\""), member("module", "\"\(module)\""),
                member("module_version", "\"1\""), member("state", "\"completed\""), member("at_ms", "1793491200123"),
                member("agent_started_at_ms", "0"), member("agent_version", "\"t\""),
                member("started_at_ms", pick(["1793491200000", "null", "1.5"])),
                member("finished_at_ms", pick(["1793491200100", "null"])), member("error", pick(["null", "\"e\"", "3"])),
                member("output", pick(["null", "{" + members.joined(separator: ",") + "}", "[1]", "\"text\""])),
            ]
            fields.shuffle(using: &generator)
            if Bool.random(using: &generator) { fields.append(member("state", "\"running\"")) }  // a later duplicate: the first counts
            var text = "{" + fields.joined(separator: ",") + "}"
            if index % 10 == 0 { text.removeLast() }  // broken
            let bytes = Array(text.utf8)
            let expected = Self.oracle(bytes)
            let read = bytes.withUnsafeBufferPointer { ArchiveRow(json: $0) }
            #expect((read == nil) == (expected == nil), "\(text)")
            guard var read, var expected else { continue }
            #expect(JSONValue(parsing: Array(read.output.utf8)) == JSONValue(parsing: Array(expected.output.utf8)), "\(text)")
            (read.output, expected.output) = ("", "")
            #expect(read == expected, "\(text)")
            if read != expected { return }
            checked += 1
        }
        #expect(checked > 1_500)  // the rest are messages ResultMessage(json:) refuses too
    }
}

/// The archiver alone (NATS and ClickHouse, no server): a row ClickHouse refuses is found, logged,
/// counted and left out, and the rest of its batch is stored — one bad row does not hold the
/// archive back for ever.
@Suite(
    .enabled(
        if: ServerBinaries.natsAvailable && ServerBinaries.clickHouseAvailable, "nats-server and clickhouse-server are needed: run scripts/test"))
struct ArchiverRefusalTests {
    @Test(.timeLimit(.minutes(2))) func aRowClickHouseRefusesIsLeftOutAndTheRestStored() async throws {
        try await withNATSServer { nats in
            try await withClickHouseServer { clickHouseServer in
                let clickHouse = try ClickHouseClient(url: clickHouseServer.clickHouseURL, database: "imn")
                // A table that refuses one target (a column computed on insert throws for it).
                _ = try await clickHouse.execute(ArchiveSchema.createDatabase("imn"), settings: ["database": "default"])
                _ = try await clickHouse.execute(
                    ArchiveSchema.createTable("imn").replacingOccurrences(
                        of: "target String,", with: "target String, refuse UInt8 MATERIALIZED throwIf(target = 'not-a-number'),"))
                let connection = try await NATSConnection.connect(NATSConfiguration(url: nats.natsURL))
                let registry = PrometheusCollectorRegistry()
                var logger = Logger(label: "test.archive")
                logger.logLevel = .critical
                let archiver = try ResultArchiver(
                    configuration: ResultArchiver.Configuration(url: clickHouseServer.clickHouseURL), connection: connection,
                    factory: PrometheusMetricsFactory(registry: registry), logger: logger
                ) { _ in nil }
                let running = Task { await archiver.run() }
                defer { running.cancel() }
                try await connection.jetStream.createOrUpdateStream(.imnResults)
                let messages = ["7", "not-a-number", "9"].enumerated().map { index, target in
                    var message = ArchiveTests.result(index).message
                    message.requestID = "refusal-\(index)"
                    message.output = ["host": .string(target), "sent": 1, "received": 1, "packets": [["rtt_ms": 1.0]]]
                    var headers = NATSHeaders()
                    headers.add("Nats-Msg-Id", "\(message.requestID):completed")
                    return NATSOutgoing(
                        subject: Subjects.result(agent: "agent_1", module: "ping_module"), payload: message.jsonBytes, headers: headers)
                }
                for outcome in await connection.jetStream.publish(messages) { _ = try outcome.get() }
                #expect(await eventually(timeout: .seconds(30)) { (await ArchiveTests.count(clickHouse))?.rows == 2 })
                #expect(await eventually { registry.emitToString().contains("imn_archive_rejected_total 1") }, "\(registry.emitToString())")
                // Terminated, not offered again: nothing more is refused or stored.
                try await Task.sleep(for: .seconds(3))
                #expect((await ArchiveTests.count(clickHouse))?.rows == 2)
                #expect(registry.emitToString().contains("imn_archive_rejected_total 1"))
                #expect(registry.emitToString().contains("imn_archive_rows_total 2"))
                running.cancel()
                _ = await running.value
                await connection.close()
            }
        }
    }

    /// Every column of a row written as RowBinary reads back from ClickHouse as it was meant:
    /// text beyond ASCII, nulls, lists, phases, a time in milliseconds.
    @Test(.timeLimit(.minutes(2))) func aRowReadsBackAsWritten() async throws {
        try await withClickHouseServer { clickHouseServer in
            let clickHouse = try ClickHouseClient(url: clickHouseServer.clickHouseURL, database: "imn")
            _ = try await clickHouse.execute(ArchiveSchema.createDatabase("imn"), settings: ["database": "default"])
            _ = try await clickHouse.execute(ArchiveSchema.createTable("imn"))
            var message = ArchiveRowTests.message(
                "http", ["url": "https://ü.example/", "status": 301, "timings_ms": ["resolve": 1.25, "total": 9.5], "note": "a\"b\\c\n"])
            message.startedAtMilliseconds = message.atMilliseconds - 1500
            message.finishedAtMilliseconds = message.atMilliseconds
            let location = AgentLocation(
                continent: "EU", country: "DE", region: "Berlin", city: "Köln", latitude: 50.94, asn: 4_200_000_000, network: "Ein Netz",
                tags: ["a", "b-c"])
            let row = ArchiveRow(message, location: location)
            var body: [UInt8] = []
            row.writeRowBinary(into: &body)
            row.writeRowBinary(into: &body, output: "{}")
            _ = try await clickHouse.execute("INSERT INTO results (\(ArchiveRow.columns.joined(separator: ", "))) FORMAT RowBinary", body: body)
            let rows = try ClickHouseClient.rows(
                try await clickHouse.execute("SELECT *, toUnixTimestamp(time) AS seconds FROM results ORDER BY output FORMAT JSONEachRow"))
            try #require(rows.count == 2)
            let stored = rows[0]
            #expect(stored["request_id"] == "r\"1" && stored["module"] == "http" && stored["target"] == "https://ü.example/")
            #expect(stored["seconds"] == 1_793_491_200 && stored["time_ms"] == 1_793_491_200_123 && stored["duration_ms"] == 1500)
            #expect(stored["city"] == "Köln" && stored["latitude"] == 50.94 && stored["longitude"] == .null && stored["asn"] == 4_200_000_000)
            #expect(stored["tags"] == ["a", "b-c"] && stored["rtts"] == [9.5] && stored["http_status"] == 301 && stored["received"] == 1)
            #expect(stored["resolve_ms"] == 1.25 && stored["total_ms"] == 9.5 && stored["tls_ms"] == .null && stored["error"] == "")
            #expect(JSONValue(parsing: Array((stored["output"]?.stringValue ?? "").utf8))?["note"] == "a\"b\\c\n")
            #expect(rows[1]["output"] == "{}" && rows[1]["request_id"] == "r\"1")
        }
    }
}
