import Agent
import Foundation
import IMNCore
import IMNTestSupport
import Testing

/// `traceroute` and `mtr` through a chain of network namespaces the test builds (three
/// routers, the middle one silent), compared with Debian's `traceroute` and `mtr` over the
/// same chain.
@Suite(.serialized, .enabled(if: NetworkNamespace.available, "needs root and iproute2 for the router chain"))
struct TracerouteModuleTests {
    static func run(_ module: any MeasurementModule, _ input: JSONValue, policy: TargetPolicy = .anything) async throws -> JSONValue {
        try await ModuleRun.run(module, input, policy: policy)
    }

    /// Per hop: the answering addresses ("*" when none) of a traceroute result.
    static func path(_ result: JSONValue) -> [String] {
        (result["hops"]?.arrayValue ?? []).map { $0["addresses"]?.arrayValue?.first?.stringValue ?? "*" }
    }

    /// Per hop from Debian's traceroute: the first address on the line, or "*".
    static func referencePath(_ arguments: [String]) async throws -> (path: [String], rtts: [[Double]]) {
        let output = try await offload { try Shell.run("traceroute", ["-n"] + arguments) }
        var path: [String] = []
        var rtts: [[Double]] = []
        for line in output.split(separator: "\n").dropFirst() {
            let words = line.split(separator: " ")
            path.append(words.dropFirst().first { $0 != "*" }.map(String.init) ?? "*")
            rtts.append(zip(words, words.dropFirst()).compactMap { $1 == "ms" ? Double($0) : nil })
        }
        return (path, rtts)
    }

    @Test func icmpUDPAndTCPFindTheChainAndTheSilentRouter() async throws {
        try await RouterChain.with { chain in
            let expected = [chain.hops[0], "*", chain.hops[2], chain.target]
            for (mode, flag) in [("icmp", "-I"), ("udp", "-U"), ("tcp", "-T")] {
                let result = try await Self.run(TracerouteModule(), ["host": .string(chain.target), "protocol": .string(mode), "wait": 0.5])
                #expect(Self.path(result) == expected, "\(mode): \(result)")
                #expect(result["reached"] == true)
                #expect(result["hop_count"] == 4)
                let hops = try #require(result["hops"]?.arrayValue)
                #expect(hops[1]["probes"]?.arrayValue?.allSatisfy { $0["timeout"] == true } == true)
                #expect(hops[0]["probes"]?[0]?["icmp_type"] == 11)
                #expect(hops[3]["reached"] == true)
                switch mode {
                case "icmp": #expect(hops[3]["probes"]?[0]?["icmp_type"] == 0)
                case "udp": #expect(hops[3]["probes"]?[0]?["icmp_code"] == 3)
                default: #expect(hops[3]["probes"]?[0]?["tcp"] == "RST")
                }
                let reference = try await Self.referencePath([flag, "-q", "3", "-w", "0.5", chain.target])
                #expect(reference.path == expected, "traceroute \(flag): \(reference.path)")
                // Both see sub-millisecond RTTs on veth links; the benchmark compares them closely.
                let ours = hops[0]["probes"]?.arrayValue?.compactMap { $0["rtt_ms"]?.numberValue } ?? []
                #expect(ours.count == 3 && ours.allSatisfy { $0 > 0 && $0 < 50 }, "\(ours)")
            }
        }
    }

    @Test func ipv6() async throws {
        try await RouterChain.with { chain in
            let result = try await Self.run(TracerouteModule(), ["host": .string(chain.target6), "wait": 0.5, "probes_per_hop": 2])
            #expect(Self.path(result) == [chain.hops6[0], "*", chain.hops6[2], chain.target6], "\(result)")
            #expect(result["family"] == "ipv6")
            #expect(result["hops"]?[0]?["probes"]?[0]?["icmp_type"] == 3)
            #expect(result["hops"]?[3]?["probes"]?[0]?["icmp_type"] == 129)
            let udp = try await Self.run(TracerouteModule(), ["host": .string(chain.target6), "wait": 0.5, "protocol": "udp", "probes_per_hop": 1])
            #expect(Self.path(udp) == [chain.hops6[0], "*", chain.hops6[2], chain.target6], "\(udp)")
            let tcp = try await Self.run(TracerouteModule(), ["host": .string(chain.target6), "wait": 0.5, "protocol": "tcp", "probes_per_hop": 1])
            #expect(Self.path(tcp) == [chain.hops6[0], "*", chain.hops6[2], chain.target6], "\(tcp)")
        }
    }

    @Test func anUnreachableRouteEndsThePathWithItsMark() async throws {
        try await RouterChain.with { chain in
            let result = try await Self.run(TracerouteModule(), ["host": .string(chain.unreachableAddress), "wait": 0.5, "probes_per_hop": 1])
            #expect(result["reached"] == false)
            #expect(Self.path(result) == [chain.hops[0], "*", chain.hops[2]], "\(result)")
            #expect(result["hops"]?[2]?["probes"]?[0]?["mark"] == "!H")
        }
    }

    @Test func mtrAgreesWithDebianMTR() async throws {
        try await RouterChain.with { chain in
            let result = try await Self.run(MTRModule(), ["host": .string(chain.target), "count": 5, "interval": 0.1, "timeout": 0.3])
            let hops = try #require(result["hops"]?.arrayValue)
            #expect(hops.count == 4, "\(result)")
            #expect(hops.map { $0["host"]?.stringValue ?? "???" } == [chain.hops[0], "???", chain.hops[2], chain.target])
            #expect(hops.map { $0["loss_percent"]?.numberValue ?? -1 } == [0, 100, 0, 0])
            #expect(hops.allSatisfy { $0["sent"] == 5 })
            for hop in [hops[0], hops[2], hops[3]] {
                let best = try #require(hop["best_ms"]?.numberValue)
                let worst = try #require(hop["worst_ms"]?.numberValue)
                let average = try #require(hop["avg_ms"]?.numberValue)
                #expect(best <= average && average <= worst && (hop["stdev_ms"]?.numberValue ?? -1) >= 0)
            }
            let output = try await offload { try Shell.run("mtr", ["-n", "--json", "-c", "5", "-i", "0.2", chain.target]) }
            let reference = try JSONDecoder().decode(JSONValue.self, from: Data(output.utf8))
            let theirs = reference["report"]?["hubs"]?.arrayValue ?? []
            #expect(theirs.map { $0["host"]?.stringValue ?? "" } == [chain.hops[0], "???", chain.hops[2], chain.target], "\(theirs)")
            #expect(theirs.map { $0["Loss%"]?.numberValue ?? -1 } == [0, 100, 0, 0])
        }
    }

    @Test func badInput() async throws {
        let error = await #expect(throws: ModuleError.self) {
            try await Self.run(TracerouteModule(), ["host": "127.0.0.1", "first_ttl": 5, "max_ttl": 3])
        }
        #expect(error?.message == "first_ttl 5 is past max_ttl 3")
        await #expect(throws: ModuleError.self) { try await Self.run(TracerouteModule(), ["host": "127.0.0.1", "max_ttl": 0]) }  // schema
        await #expect(throws: ModuleError.self) { try await Self.run(MTRModule(), ["host": "127.0.0.1", "count": 1000]) }  // schema
        await #expect(throws: ModuleError.self) { try await Self.run(TracerouteModule(), ["host": "no-such-host.invalid"]) }
        let refused = await #expect(throws: ModuleError.self) { try await Self.run(TracerouteModule(), ["host": "10.1.2.3"], policy: .publicOnly) }
        #expect(refused?.message.contains("private address") == true, "\(refused?.message ?? "")")
    }

    @Test func loopbackIsOneHop() async throws {
        let result = try await Self.run(TracerouteModule(), ["host": "127.0.0.1", "wait": 0.5])
        #expect(Self.path(result) == ["127.0.0.1"])
        #expect(result["reached"] == true)
        let mtr = try await Self.run(MTRModule(), ["host": "::1", "count": 3, "interval": 0.05])
        #expect(mtr["hops"]?[0]?["loss_percent"] == 0)
        #expect(mtr["hops"]?[0]?["received"] == 3)
    }
}
