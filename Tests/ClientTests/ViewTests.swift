import Client
import IMNCore
import Testing

/// What the client commands print for the server's answers.
struct ViewTests {
    static let plain = OutputStyle(colour: false, progress: false)

    static func run(_ agent: String, _ state: String, city: String, country: String, asn: Int, stats: JSONValue? = nil, error: String? = nil)
        -> JSONValue
    {
        var run: [String: JSONValue] = [
            "agent_id": .string(agent), "state": .string(state),
            "location": ["city": .string(city), "country": .string(country), "asn": .number(Double(asn))],
        ]
        if let stats { run["stats"] = stats }
        if let error { run["error"] = .string(error) }
        return .object(run)
    }

    @Test func aPingMeasurementIsATableWithItsSummary() {
        let measurement: JSONValue = [
            "id": "m-1", "module": "ping_module", "status": "finished", "input": ["host": "127.0.0.1"],
            "runs": [
                Self.run(
                    "agent_1", "completed", city: "Berlin", country: "DE", asn: 3320,
                    stats: ["min_ms": 0.0258, "avg_ms": 0.0494, "max_ms": 0.091, "loss": 0]),
                Self.run("agent_2", "error", city: "Ashburn", country: "US", asn: 16509, error: "ping: unknown host"),
            ],
            "summary": [
                "runs": 2, "completed": 1, "error": 1, "failed": 0,
                "rtt": ["min_ms": 0.0258, "median_ms": 0.0494, "max_ms": 0.091, "loss": 0.25],
            ],
        ]
        let text = MeasurementView.render(measurement, style: Self.plain)
        #expect(
            text == """
                ping_module 127.0.0.1 — m-1, finished
                AGENT    LOCATION              STATE      MIN ms  AVG ms  MAX ms  LOSS
                agent_1  Berlin, DE, AS3320    completed   0.026   0.049   0.091  0.0%
                agent_2  Ashburn, US, AS16509  error      ping: unknown host
                2 runs: 1 completed, 1 error; RTT min 0.026 ms, median 0.049, max 0.091, loss 25.0%
                """)
        #expect(!text.contains("\u{1B}"))
        #expect(MeasurementView.render(measurement, style: OutputStyle(colour: true, progress: false)).contains("\u{1B}[32mcompleted"))
        #expect(MeasurementView.exitStatus(measurement) == .runsFailed)
    }

    @Test func exitStatusSaysHowTheRunsEnded() {
        func status(_ states: [String]) -> ClientExitStatus {
            MeasurementView.exitStatus(["runs": .array(states.map { ["state": .string($0)] })])
        }
        #expect(status(["completed", "completed"]) == .ok)
        #expect(status(["completed", "failed"]) == .runsFailed)
        #expect(status(["completed", "offline"]) == .runsFailed)
        #expect(status(["completed", "running"]) == .timedOut)
        #expect(ClientExitStatus.allCases.map(\.rawValue) == [0, 1, 2, 3, 4, 5])
    }

    @Test func aTraceroutePrintsEachRunsPath() {
        let measurement: JSONValue = [
            "id": "m-2", "module": "traceroute", "status": "finished", "input": ["host": "10.0.0.9"],
            "runs": [
                [
                    "agent_id": "agent_1", "state": "completed",
                    "result": [
                        "hop_count": 2, "reached": true,
                        "hops": [
                            ["ttl": 1, "addresses": ["10.0.0.1"], "probes": [["rtt_ms": 0.5], ["rtt_ms": 0.25]]],
                            ["ttl": 2, "addresses": [], "probes": [[:], [:]]],
                        ],
                    ],
                ]
            ],
        ]
        let text = MeasurementView.render(measurement, style: Self.plain)
        #expect(text.contains("agent_1  -         completed     2  yes      *"))
        #expect(text.contains("path from agent_1:\nHOP  ADDRESS   RTT ms\n  1  10.0.0.1  0.500  0.250\n  2  *         *  *"))
    }

    @Test func agentsAndEventsRenderAsLines() {
        let agents: JSONValue = [
            [
                "agent_id": "agent_1", "alive": true, "seconds_since_heartbeat": 2,
                "location": ["city": "Berlin", "country": "DE", "asn": 3320, "network": "Deutsche Telekom", "tags": ["eyeball", "ipv6"]],
                "modules": [["name": "ping_module", "enabled": true], ["name": "dns", "enabled": false]],
            ]
        ]
        #expect(
            ListViews.agents(agents, style: Self.plain) == """
                AGENT    ALIVE  LOCATION            NETWORK           TAGS          MODULES  LAST HEARD
                agent_1  yes    Berlin, DE, AS3320  Deutsche Telekom  eyeball,ipv6        1  2 s ago
                """)
        #expect(ListViews.agents([], style: Self.plain) == "no agents match")
        let event: JSONValue = [
            "kind": "result", "agent_id": "agent_1", "module": "echo_module", "state": "completed", "id": "r-1", "at_ms": 0,
            "output": ["message": "hi"],
        ]
        let line = ListViews.event(event, style: Self.plain)
        #expect(line.hasSuffix(#"  result  agent_1  echo_module  completed  r-1  {"message":"hi"}"#), "\(line)")
    }
}
