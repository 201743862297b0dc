import Foundation
import IMNCore
import IMNTestSupport
import Testing

/// The server's web page in a real browser: headless Chromium (Debian's) opens `/` of an `imn up`
/// stack after a ping, and both agents and the ping's result must be on the page. The screenshot
/// is kept in `.build/test-artifacts/web-page.png`.
@Suite(
    .enabled(
        if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable && ServerBinaries.imn != nil
            && ServerBinaries.find("chromium") != nil,
        "redis-server, nats-server, chromium and the built imn binary are needed: run scripts/test"))
struct WebPageTests {
    @Test func pageShowsBothAgentsAndAResultInChromium() async throws {
        try await UpTests.withQuietStack("web") { data, ports in
            let ping = try await HTTP.request(
                "POST", port: ports[4], path: "/agent/agent_1/ping_module?wait=10", body: #"{"host":"127.0.0.1","count":3,"interval":0.05}"#,
                headers: ["Idempotency-Key": "web-page-ping"])
            #expect(ping.status == 200)
            #expect(try await HTTP.request("GET", port: ports[4], path: "/").json?["agents_alive"] == 2, "API clients still get JSON at /")

            let url = "http://127.0.0.1:\(ports[4])/"
            let browser = try #require(ServerBinaries.find("chromium"))
            // Virtual time lets the page's scripts load agents and results before the DOM is read.
            let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000", "--user-data-dir=\(data.path)/chromium"]
            var (status, dom) = try await offload { try runProgram(browser, flags + ["--dump-dom", url]) }
            // A page read before its fetches finished has no rows yet: try once more.
            if !dom.contains(#"id="result-web-page-ping""#) {
                (status, dom) = try await offload { try runProgram(browser, flags + ["--dump-dom", url]) }
            }
            #expect(status == 0)
            for agent in ["agent_1", "agent_2"] {
                let row = dom.range(of: #"<tr id="agent-\#(agent)">"#).map { String(dom[$0.lowerBound...].prefix(300)) } ?? ""
                #expect(row.contains(#"class="alive""#), "\(agent)'s row shows it alive: \(row)")
            }
            let result = dom.range(of: #"id="result-web-page-ping""#).map { String(dom[$0.lowerBound...].prefix(600)) } ?? ""
            #expect(result.contains("ping_module") && result.contains("completed") && result.contains("avg_ms"), "the ping's result: \(result)")
            #expect(dom.contains("agent_1 → 127.0.0.1"), "the RTT chart has agent_1's series to 127.0.0.1")

            // Where each agent is, and a measurement on every agent tagged `local` run from the page's form.
            #expect(dom.contains("Berlin · DE · AS3320"), "agent_1's location is shown")
            let link = url + #"#measure?tag=local&module=echo_module&input={"message":"from the page"}&limit=5"#
            let (_, measured) = try await offload { try runProgram(browser, flags + ["--dump-dom", link]) }
            let table =
                measured.range(of: #"<tbody id="many-runs">"#).map { measured[$0.upperBound...] }?.components(separatedBy: "</tbody>").first ?? ""
            let runs = table.components(separatedBy: #"<tr class="many-run">"#).dropFirst().map { String($0.prefix(400)) }
            #expect(runs.count == 2, "both agents ran it: \(runs)")
            #expect(runs.allSatisfy { $0.contains(#"class="completed""#) && $0.contains("from the page") }, "\(runs)")
            #expect(runs.first?.contains("Ashburn · US") == true, "runs sorted by location: \(runs.first ?? "")")
            #expect(measured.contains("2 of 2 completed"))

            let artifacts = Repository.path(".build/test-artifacts")
            try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
            let screenshot = artifacts.appendingPathComponent("web-page.png")
            try? FileManager.default.removeItem(at: screenshot)
            let (shot, output) = try await offload {
                try runProgram(browser, flags + ["--window-size=1280,1000", "--screenshot=\(screenshot.path)", url])
            }
            #expect(shot == 0, "\(output.suffix(500))")
            let png = try Data(contentsOf: screenshot)
            #expect(png.count > 10_000 && png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG screenshot at \(screenshot.path)")
        }
    }
}
