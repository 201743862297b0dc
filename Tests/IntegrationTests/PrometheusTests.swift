import Foundation
import IMNCore
import IMNTestSupport
import Testing

/// A real Prometheus (Debian's) with otel/prometheus.yml and otel/alerts.yml, its targets pointed
/// at an `imn up` stack on loopback ports, read through Prometheus's query API.
@Suite(
    .enabled(
        if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable && ServerBinaries.imn != nil
            && ServerBinaries.find("prometheus") != nil,
        "redis-server, nats-server, prometheus and the built imn binary are needed: run scripts/test"))
struct PrometheusTests {
    @Test func prometheusScrapesServerAndAgentsAndSeesProbeRTTs() async throws {
        try await UpTests.withQuietStack("prom") { data, ports in
            // The compose configuration, with loopback targets and a one-second scrape.
            var configuration = try String(contentsOf: Repository.path("otel/prometheus.yml"), encoding: .utf8)
            for (from, to) in [
                ("server:8000", "127.0.0.1:\(ports[4])"), ("dbos:9103", "127.0.0.1:\(ports[7])"), ("agent_1:9101", "127.0.0.1:\(ports[5])"),
                ("agent_2:9102", "127.0.0.1:\(ports[6])"),
                ("scrape_interval: 15s", "scrape_interval: 1s"), ("evaluation_interval: 15s", "evaluation_interval: 1s"),
                ("/etc/prometheus/alerts.yml", Repository.path("otel/alerts.yml").path),
            ] {
                #expect(configuration.contains(from), "otel/prometheus.yml no longer has \(from)")
                configuration = configuration.replacingOccurrences(of: from, with: to)
            }
            let file = data.appendingPathComponent("prometheus.yml")
            try configuration.write(to: file, atomically: true, encoding: .utf8)
            let port = FreePort.next()
            let prometheus = ServerProcess(
                name: "prometheus", executable: ServerBinaries.find("prometheus") ?? "prometheus", port: port, directory: data,
                arguments: [
                    "--config.file=\(file.path)", "--storage.tsdb.path=\(data.appendingPathComponent("tsdb").path)",
                    "--web.listen-address=127.0.0.1:\(port)",
                ])
            try await withServer(prometheus) { _ in
                func query(_ expression: String) async -> [JSONValue] {
                    let encoded = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? expression
                    let reply = try? await HTTP.request("GET", port: port, path: "/api/v1/query?query=\(encoded)")
                    return reply?.json?["data"]?["result"]?.arrayValue ?? []
                }
                #expect(
                    await eventually(timeout: .seconds(20)) {
                        let up = await query("up == 1")
                        let targets = Set(
                            up.map { (series: JSONValue) -> String in
                                let job = series["metric"]?["job"]?.stringValue ?? "?"
                                return job + "/" + (series["metric"]?["agent"]?.stringValue ?? "")
                            })
                        return targets == ["imn-server/", "imn-dbos/", "imn-agent/agent_1", "imn-agent/agent_2"]
                    }, "up == 1 for the server, DBOS, agent_1 and agent_2")
                let ping = try await HTTP.request(
                    "POST", port: ports[4], path: "/agent/agent_1/ping_module?wait=10", body: #"{"host":"127.0.0.1","count":3,"interval":0.05}"#)
                #expect(ping.status == 200)
                #expect(
                    await eventually(timeout: .seconds(20)) {
                        let series = await query(#"imn_agent_probe_rtt_seconds_count{agent="agent_1",module="ping_module",target="127.0.0.1"}"#)
                        return series.contains { Double($0["value"]?[1]?.stringValue ?? "") ?? 0 >= 3 }
                    }, "the probe RTT histogram of agent_1 holds the three replies, by target")
                // Counters per target: rates and quantiles over any window, whatever the scrape interval.
                let second = try await HTTP.request(
                    "POST", port: ports[4], path: "/agent/agent_1/ping_module?wait=10", body: #"{"host":"127.0.0.1","count":2,"interval":0.05}"#)
                #expect(second.status == 200)
                #expect(
                    await eventually(timeout: .seconds(20)) {
                        let sent = await query(#"imn_agent_probe_packets_sent_total{agent="agent_1",target="127.0.0.1"}"#)
                        let received = await query(#"imn_agent_probe_packets_received_total{agent="agent_1",target="127.0.0.1"}"#)
                        return sent.first?["value"]?[1] == "5" && received.first?["value"]?[1] == "5"
                    }, "both runs counted: 5 sent, 5 received")
                let quantile = await query(
                    #"histogram_quantile(0.5, sum by (le, target) (rate(imn_agent_probe_rtt_seconds_bucket{agent="agent_1"}[1m])))"#)
                #expect(quantile.first?["metric"]?["target"] == "127.0.0.1", "\(quantile)")
                #expect(await query(#"imn_probe_success{agent="agent_1",module="ping_module",target="127.0.0.1"} == 1"#).count == 1)
                #expect(await query(#"imn_build_info{job="imn-dbos",service="imn-dbos"}"#).count == 1, "DBOS's /metrics is scraped")
                #expect(await query(#"process_resident_memory_bytes > 0"#).count == 4, "process metrics from all four processes")
                #expect(await query(#"imn_dbos_rpcs_total"#).isEmpty == false, "DBOS counts its calls")
                // Every family every process serves says what it is.
                for (name, metricsPort) in [("server", ports[4]), ("agent_1", ports[5]), ("dbos", ports[7])] {
                    let body = try await HTTP.request("GET", port: metricsPort, path: "/metrics").body
                    let lines = body.split(separator: "\n")
                    let types = lines.indices.filter { lines[$0].hasPrefix("# TYPE ") }
                    #expect(types.count >= 8, "\(name): \(body)")
                    for index in types {
                        let family = lines[index].split(separator: " ")[2]
                        #expect(index > 0 && lines[index - 1].hasPrefix("# HELP \(family) "), "\(name): \(family) has no # HELP")
                    }
                    #expect(body.contains("imn_build_info{service=\"imn-\(name.hasPrefix("agent") ? "agent" : name)\""), "\(name)")
                    #expect(body.contains("process_cpu_seconds_total "), "\(name)")
                }
                let rules = try await HTTP.request("GET", port: port, path: "/api/v1/rules")
                let names = rules.json?["data"]?["groups"]?[0]?["rules"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
                #expect(
                    Set(names) == [
                        "IMNServerDown", "IMNDBOSDown", "IMNAgentDown", "IMNAgentsDeadInRegistry", "IMNProbeLossHigh", "IMNIngestionLagHigh",
                        "IMNIngestionFailing", "IMNRedisNearlyFull", "IMNTelemetryDropped",
                    ])
                let firing = await query(#"ALERTS{alertstate="firing"}"#)
                #expect(firing.isEmpty, "nothing fires on a healthy stack")
            }
        }
    }
}
