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

    /// The deployment rules catch what the issue named: a floating tag, a port on every
    /// interface, Redis published, OpenSearch without limits, an image running as root.
    @Test(.enabled(if: ServerBinaries.find("python3") != nil, "python3 with PyYAML is needed: run scripts/setup"))
    func composeThatIsNotFitToDeployIsRefused() async throws {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("imn-configs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: copy) }
        for folder in ["otel", "nats", "dashboards", "Sources"] {
            try FileManager.default.createDirectory(
                at: copy.appendingPathComponent(folder).deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: Repository.path(folder), to: copy.appendingPathComponent(folder))
        }
        var compose = try String(contentsOf: Repository.path("compose.yaml"), encoding: .utf8)
        for (from, to) in [
            ("image: redis:7.4.5", "image: redis:7.4.5\n    ports: [\"6379:6379\"]"), ("nats:2.15.1-alpine", "nats:latest"),
            ("\"${IMN_BIND_ADDRESS:-127.0.0.1}:9090:9090\"", "\"9090:9090\""), ("    mem_limit: 2g\n", ""),
        ] {
            #expect(compose.contains(from), "compose.yaml no longer has \(from)")
            compose = compose.replacingOccurrences(of: from, with: to)
        }
        try compose.write(to: copy.appendingPathComponent("compose.yaml"), atomically: true, encoding: .utf8)
        let dockerfile = try String(contentsOf: Repository.path("Dockerfile"), encoding: .utf8)
        try dockerfile.replacingOccurrences(of: "USER imn", with: "").write(
            to: copy.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        let (status, output) = try await Self.run(
            ServerBinaries.find("python3") ?? "python3", [Repository.path("scripts/check-configs.py").path, copy.path])
        #expect(status == 1)
        for problem in [
            "redis publishes 6379:6379 on every interface", "nats image 'nats:latest' is not pinned", "prometheus publishes 9090:9090",
            "opensearch needs mem_limit", "the image runs as root",
        ] {
            #expect(output.contains(problem), "\(problem) not found in: \(output)")
        }
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
        #expect(checked.output.contains("SUCCESS: 9 rules found"))
        // The rules' unit tests: each alert fires on the series it is for, when it should, with its runbook.
        let tested = try await Self.run(promtool, ["test", "rules", Repository.path("otel/alerts.test.yml").path])
        #expect(tested.status == 0 && tested.output.contains("SUCCESS"), "\(tested.output)")
        let configuration = try String(contentsOf: Repository.path("otel/prometheus.yml"), encoding: .utf8)
            .replacingOccurrences(of: "/etc/prometheus/alerts.yml", with: rules)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("imn-prometheus-\(UUID().uuidString).yml")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let config = try await Self.run(promtool, ["check", "config", file.path])
        #expect(config.status == 0, "\(config.output)")
    }
}
