import Foundation
import IMNCore
import Testing

@testable import Server

/// The selection rules alone: spread over locations, limits, never one agent twice.
struct AgentSelectionTests {
    static func entry(_ id: String, _ location: AgentLocation) -> AgentRegistry.Candidate {
        AgentRegistry.Candidate(agentID: id, location: location)
    }

    static let agents = [
        entry("de1", AgentLocation(country: "DE", asn: 3320, tags: ["eyeball"])), entry("de2", AgentLocation(country: "DE", asn: 3209)),
        entry("de3", AgentLocation(country: "DE", asn: 3320)), entry("us1", AgentLocation(country: "US", tags: ["eyeball"])),
        entry("jp1", AgentLocation(country: "JP")),
    ]

    static func pick(_ locations: [AgentSelection.Location], limit: Int?) throws(LedgerError) -> [String] {
        try AgentSelection.pick(locations, limit: limit, module: "m", candidates: agents, draw: { $0.lowerBound }).map(\.agentID)
    }

    @Test func spreadsOverLocationsInTurn() throws {
        let de = AgentSelection.Location(filter: LocationFilter(country: "DE"), limit: nil)
        let eyeball = AgentSelection.Location(filter: LocationFilter(tags: ["eyeball"]), limit: nil)
        #expect(try Self.pick([de, eyeball], limit: 4) == ["de1", "us1", "de2", "de3"], "de1 is taken, so eyeball's next is us1")
        #expect(try Self.pick([de], limit: nil) == ["de1"], "one per location by default")
        #expect(try Self.pick([de], limit: 10) == ["de1", "de2", "de3"], "at most what matches")
        let capped = AgentSelection.Location(filter: LocationFilter(country: "DE"), limit: 1)
        let anywhere = AgentSelection.Location(filter: LocationFilter(), limit: nil)
        #expect(try Self.pick([capped, anywhere], limit: 3) == ["de1", "de2", "de3"])
        #expect(try Self.pick([capped, AgentSelection.Location(filter: LocationFilter(country: "JP"), limit: 2)], limit: nil) == ["de1", "jp1"])
    }

    @Test func randomDrawsSpreadOverALocationsAgents() throws {
        let de = AgentSelection.Location(filter: LocationFilter(country: "DE"), limit: nil)
        var seen: [String: Int] = [:]
        for _ in 0..<300 {
            let picked = try AgentSelection.pick([de], limit: 2, module: "m", candidates: Self.agents)
            #expect(Set(picked.map(\.agentID)).count == 2, "never one agent twice")
            for candidate in picked { seen[candidate.agentID, default: 0] += 1 }
        }
        #expect(Set(seen.keys) == ["de1", "de2", "de3"])
        #expect(seen.values.allSatisfy { $0 > 100 }, "each German agent about 200 times in 600 picks: \(seen)")
    }

    @Test func aLocationMatchingNothingIsNamed() {
        let nowhere = AgentSelection.Location(filter: LocationFilter(country: "FR"), limit: nil)
        #expect(throws: LedgerError.self) { try Self.pick([AgentSelection.Location(filter: LocationFilter(), limit: nil), nowhere], limit: nil) }
        do {
            _ = try Self.pick([nowhere], limit: nil)
        } catch {
            #expect(error.violations.map(\.pointer) == ["/locations/0"])
            #expect(error.violations.first?.message.contains("country=FR") == true)
        }
    }

    @Test func runIDsRoundTrip() {
        let run = MeasurementLedger.runID(measurement: "m-1", agentID: "agent_2")
        #expect(run == "m-1~agent_2")
        #expect(MeasurementLedger.measurementID(ofRun: run, agentID: "agent_2") == "m-1")
        #expect(MeasurementLedger.measurementID(ofRun: "single", agentID: "agent_2") == "single")
    }

    @Test func summariesFitTheProbeModules() {
        func run(_ output: JSONValue) -> MeasurementSummary.Run { .init(agentID: "a", location: nil, state: "completed", output: output) }
        let http = MeasurementSummary.summarize([
            run(["status": 200, "timings_ms": ["total": 12]]), run(["status": 200, "timings_ms": ["total": 30]]),
            run(["status": 503, "timings_ms": ["total": 5]]),
        ])
        #expect(http["http"]?["statuses"] == ["200": 2, "503": 1])
        #expect(http["http"]?["total_ms"] == ["min": 5, "median": 12, "max": 30])
        let dns = MeasurementSummary.summarize([run(["rcode": "NOERROR", "query_time_ms": 1.5]), run(["rcode": "SERVFAIL", "query_time_ms": 3.5])])
        #expect(dns["dns"]?["rcodes"] == ["NOERROR": 1, "SERVFAIL": 1])
        #expect(dns["dns"]?["query_time_ms"]?["median"] == 2.5)
        let paths = MeasurementSummary.summarize([run(["reached": true, "hop_count": 4]), run(["reached": false, "hop_count": 30])])
        #expect(paths["path"]?["outcomes"] == ["reached": 1, "not_reached": 1])
        #expect(paths["path"]?["hops"]?["max"] == 30)
        #expect(paths["http"] == nil && paths["dns"] == nil && paths["rtt"] == nil)
    }
}
