import Foundation
import IMNTestSupport
import Testing

/// The files people with Docker run: compose.yaml, the Collector and Data Prepper configs, the
/// Prometheus configuration and rules, each checked by the tool that will read it, plus
/// scripts/check-configs.py for what no such tool checks (component names of the pinned versions,
/// references, metric names in alerts) and scripts/check-dashboards.py for the saved objects in
/// dashboards/ (UpTests runs it again against the telemetry a running stack exports).
struct ConfigTests {
    static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await offload { try runProgram(executable, arguments) }
    }

    @Test(.enabled(if: ServerBinaries.find("docker-compose") != nil, "docker-compose is needed: run scripts/setup"))
    func composeFileIsValid() async throws {
        let compose = try #require(ServerBinaries.find("docker-compose"))
        let (status, output) = try await Self.run(compose, ["-f", Repository.path("compose.yaml").path, "config", "-q"])
        #expect(status == 0, "\(output)")
    }

    @Test(.enabled(if: ServerBinaries.find("python3") != nil, "python3 with PyYAML is needed: run scripts/setup"))
    func collectorDataPrepperAlertsAndComposeReferencesResolve() async throws {
        let (status, output) = try await Self.run(
            ServerBinaries.find("python3") ?? "python3",
            [Repository.path("scripts/check-configs.py").path, Repository.root.path])
        #expect(status == 0, "\(output)")
        #expect(output.contains("0 problem(s)"))
    }

    @Test(.enabled(if: ServerBinaries.find("python3") != nil, "python3 is needed: run scripts/setup"))
    func dashboardsParseReferencesResolveAndMetricsExist() async throws {
        let (status, output) = try await Self.run(
            ServerBinaries.find("python3") ?? "python3", [Repository.path("scripts/check-dashboards.py").path, Repository.root.path])
        #expect(status == 0, "\(output)")
        #expect(output.contains("0 problems"))
    }

    @Test(.enabled(if: ServerBinaries.find("promtool") != nil, "promtool (Debian's prometheus) is needed: run scripts/setup"))
    func prometheusConfigurationAndRulesAreValid() async throws {
        let promtool = try #require(ServerBinaries.find("promtool"))
        let rules = Repository.path("otel/alerts.yml").path
        let checked = try await Self.run(promtool, ["check", "rules", rules])
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output.contains("SUCCESS: 5 rules found"))
        let configuration = try String(contentsOf: Repository.path("otel/prometheus.yml"), encoding: .utf8)
            .replacingOccurrences(of: "/etc/prometheus/alerts.yml", with: rules)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("imn-prometheus-\(UUID().uuidString).yml")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let config = try await Self.run(promtool, ["check", "config", file.path])
        #expect(config.status == 0, "\(config.output)")
    }
}
