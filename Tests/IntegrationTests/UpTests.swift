import Foundation
import IMNCore
import IMNTestSupport
import OTLP
import OTLPSink
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `imn up` as a user runs it: the whole stack on free ports, telemetry to `imn otlp-sink`'s
/// receiver, stopped with SIGTERM leaving nothing behind, and started again on the same data.
@Suite(
    .enabled(
        if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable && ServerBinaries.imn != nil,
        "redis-server, nats-server and the built imn binary are needed: run scripts/test"))
struct UpTests {
    /// `imn up` on seven ports: Redis, NATS, NATS monitoring, DBOS, server, agent_1, agent_2.
    static func up(data: URL, ports: [Int], environment: [String: String] = [:]) -> ServerProcess {
        ServerProcess(
            name: "up", executable: ServerBinaries.imn ?? "imn", port: ports[4], directory: data,
            arguments: [
                "up", "--data-dir", data.appendingPathComponent("stack").path, "--redis-port", "\(ports[0])", "--nats-port", "\(ports[1])",
                "--nats-monitor-port", "\(ports[2])", "--dbos-port", "\(ports[3])", "--server-port", "\(ports[4])", "--agent-ports",
                "\(ports[5]),\(ports[6])", "--dbos-metrics-port", "\(ports[7])",
            ], environment: environment)
    }

    /// `imn up` with OTLP off in a temporary folder on seven free ports (see ``up(data:ports:environment:)``),
    /// both agents alive, for `body`; stopped with SIGTERM and removed afterwards.
    static func withQuietStack(_ name: String, _ body: (_ data: URL, _ ports: [Int]) async throws -> Void) async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("imn-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: data) }
        let ports = (0..<8).map { _ in FreePort.next() }
        let stack = up(data: data, ports: ports, environment: ["OTEL_SDK_DISABLED": "true"])
        try await withServer(stack) { _ in
            #expect(await agentsAlive(ports[4]))
            try await body(data, ports)
            await stack.terminate()
        }
    }

    /// Waits until `imn up` has both agents alive.
    static func agentsAlive(_ server: Int) async -> Bool {
        await eventually(timeout: .seconds(30)) {
            let agents = try? await HTTP.request("GET", port: server, path: "/agents/alive")
            return Set(agents?.json?.arrayValue?.compactMap { $0["agent_id"]?.stringValue } ?? []) == ["agent_1", "agent_2"]
        }
    }

    @Test func upRunsTheStackExportsTelemetryStopsCleanlyAndKeepsItsData() async throws {
        let sinkPort = ListeningPort()
        let sink = OTLPSink(port: 0)
        let receiving = Task { try await sink.run { sinkPort.set($0) } }
        #expect(await eventually { sinkPort.value != 0 })
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("imn-up-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: data) }
        let ports = (0..<8).map { _ in FreePort.next() }
        let server = ports[4]
        func up() -> ServerProcess {
            Self.up(
                data: data, ports: ports,
                environment: [
                    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(sinkPort.value)", "OTEL_BSP_SCHEDULE_DELAY": "200",
                    "OTEL_METRIC_EXPORT_INTERVAL": "500",
                ])
        }
        let first = up()
        try await first.start(timeout: .seconds(60))
        #expect(await Self.agentsAlive(server))
        let ping = try await HTTP.request(
            "POST", port: server, path: "/agent/agent_2/ping_module?wait=10", body: #"{"host":"127.0.0.1","count":2,"interval":0.05}"#,
            headers: ["Idempotency-Key": "up-ping"])
        #expect(ping.json?["result"]?["received"] == 2, "\(ping.body)")
        let tcping = try await HTTP.request(
            "POST", port: server, path: "/agent/agent_1/tcping?wait=10", body: #"{"host":"127.0.0.1","port":\#(server),"count":2,"interval":0.05}"#)
        #expect(tcping.json?["result"]?["connected"] == 2, "\(tcping.body)")
        let wanted: Set = ["imn_agent_probe_last_rtt_seconds", "imn_agent_cpu_ratio", "imn_agent_load_average", "imn_server_agents"]
        #expect(
            await eventually(timeout: .seconds(15)) {
                let items = sink.items
                let spans = Set(items.compactMap { if case .span = $0 { $0.serviceName } else { nil } })
                let metrics = Set(items.compactMap { if case .metric = $0 { $0.serviceName } else { nil } })
                let names = Set(items.compactMap { if case .metric(let metric, _) = $0 { metric.name } else { nil } })
                return spans == ["imn-server", "imn-agent", "imn-dbos"] && metrics == ["imn-server", "imn-agent", "imn-dbos"]
                    && names.isSuperset(of: wanted)
            }, "traces and metrics from all three services")

        // Every field the dashboards chart is one this stack exported.
        let telemetry = data.appendingPathComponent("telemetry.ndjson")
        let lines = sink.items.map { String(decoding: (try? JSONEncoder().encode($0.json)) ?? Data(), as: UTF8.self) }
        try (lines.joined(separator: "\n") + "\n").write(to: telemetry, atomically: true, encoding: .utf8)
        let checked = try await offload {
            try runProgram(
                ServerBinaries.find("python3") ?? "python3",
                [Repository.path("scripts/check-dashboards.py").path, Repository.root.path, "--telemetry", telemetry.path])
        }
        #expect(checked.status == 0, "\(checked.output)")

        await first.terminate()  // SIGTERM: everything stops in reverse order
        for port in ports { #expect(!FreePort.isAccepting(port), "port \(port) still answers after imn up stopped") }
        let log = String(decoding: FileManager.default.contents(atPath: first.logFile.path) ?? Data(), as: UTF8.self)
        #expect(log.contains("up: redis stopped"))

        // Again, on the same data: the earlier result is there.
        let second = up()
        try await second.start(timeout: .seconds(60))
        #expect(
            await eventually(timeout: .seconds(30)) {
                (try? await HTTP.request("GET", port: server, path: "/agents/agent_2/results/up-ping"))?.status == 200
            })
        await second.terminate()
        for port in ports { #expect(!FreePort.isAccepting(port)) }
        receiving.cancel()
        _ = await receiving.result
    }
}
