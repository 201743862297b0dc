import Agent
import Foundation
import IMNCore
import IMNTestSupport
import Testing

/// The `dns` module against NSD serving the test zones (`scripts/testbed/dns-server`), and
/// against a misbehaving server (`scripts/testbed/dns-faults.py`) for the faults.
/// NSD comes from Debian's nsd package (scripts/setup installs it).
@Suite(.serialized) struct DNSModuleTests {
    static func run(_ input: JSONValue, policy: TargetPolicy = .anything) async throws -> JSONValue {
        try await ModuleRun.run(DNSModule(), input, policy: policy)
    }

    /// Runs `body` with the address:port of a server started from `script` (NSD by default).
    static func withServer<T>(_ script: String = "scripts/testbed/dns-server", mode: String? = nil, _ body: (String) async throws -> T) async throws
        -> T
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-dns-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let port = FreePort.next()
        let arguments = [Repository.path(script).path, "\(port)"] + (mode.map { [$0] } ?? [directory.appendingPathComponent("nsd").path])
        let server = ServerProcess(
            name: "dns", executable: script.hasSuffix(".py") ? "/usr/bin/python3" : "/bin/bash", port: port, directory: directory,
            arguments: arguments)
        try await server.start()
        // kill -9: NSD's children notice and exit with it (a SIGTERM from here arrives blocked).
        do {
            let result = try await body("127.0.0.1:\(port)")
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    static func data(_ result: JSONValue, _ section: String = "answers") -> [String] {
        (result[section]?.arrayValue ?? []).compactMap { $0["data"]?.stringValue }
    }

    @Test func anARecordWithTheHeaderAndTiming() async throws {
        try await Self.withServer { resolver in
            let result = try await Self.run(["name": "www.imn.test", "resolver": .string(resolver)])
            #expect(result["rcode"] == "NOERROR")
            #expect(Self.data(result) == ["192.0.2.10"])
            #expect(result["answers"]?[0]?["ttl"] == 300)
            #expect(result["answers"]?[0]?["name"] == "www.imn.test.")
            #expect(result["flags"]?["qr"] == true)
            #expect(result["flags"]?["aa"] == true)
            #expect(result["flags"]?["rd"] == true)
            #expect(result["protocol"] == "udp")
            #expect(result["tcp_fallback"] == false)
            #expect(result["resolver"] == .string(resolver))
            #expect(result["edns"]?["udp_size"] != nil)
            let time = try #require(result["query_time_ms"]?.numberValue)
            #expect(time > 0 && time < 500)
            #expect((result["response_size"]?.numberValue ?? 0) > 12)
        }
    }

    @Test func everyRecordType() async throws {
        try await Self.withServer { resolver in
            let cases: [(String, String, [String])] = [
                ("www.imn.test", "AAAA", ["2001:db8::10"]), ("imn.test", "MX", ["10 mail.imn.test."]), ("imn.test", "TXT", ["\"v=spf1 -all\""]),
                ("alias.imn.test", "CNAME", ["www.imn.test."]), ("_sip._udp.imn.test", "SRV", ["10 5 5060 sip.imn.test."]),
                ("imn.test", "NS", ["ns1.imn.test."]), ("192.0.2.10", "PTR", ["www.imn.test."]),
            ]
            for (name, type, expected) in cases {
                let result = try await Self.run(["name": .string(name), "type": .string(type), "resolver": .string(resolver)])
                #expect(Self.data(result) == expected, "\(name) \(type): \(result["answers"] ?? .null)")
                #expect(result["answers"]?[0]?["type"] == .string(type))
            }
            let soa = try await Self.run(["name": "imn.test", "type": "SOA", "resolver": .string(resolver)])
            #expect(Self.data(soa).first?.hasPrefix("ns1.imn.test. hostmaster.imn.test. 2026120701") == true, "\(Self.data(soa))")
            let caa = try await Self.run(["name": "imn.test", "type": "CAA", "resolver": .string(resolver)])
            #expect(Self.data(caa).first?.contains("letsencrypt.org") == true, "\(Self.data(caa))")
            let reverse = try await Self.run(["name": "192.0.2.10", "type": "PTR", "resolver": .string(resolver)])
            #expect(reverse["question"] == "10.2.0.192.in-addr.arpa.")
        }
    }

    @Test func nxdomainAndServfail() async throws {
        try await Self.withServer { resolver in
            let missing = try await Self.run(["name": "nothing.imn.test", "resolver": .string(resolver)])
            #expect(missing["rcode"] == "NXDOMAIN")
            #expect(missing["answers"] == [])
            #expect(missing["authority"]?[0]?["type"] == "SOA")
            let broken = try await Self.run(["name": "www.broken.test", "resolver": .string(resolver)])
            #expect(broken["rcode"] == "SERVFAIL")
        }
    }

    @Test func aTruncatedUDPAnswerIsAskedAgainOverTCP() async throws {
        try await Self.withServer { resolver in
            for size in [1232, 0] {
                let result = try await Self.run([
                    "name": "big.imn.test", "type": "TXT", "resolver": .string(resolver), "udp_size": .number(Double(size)),
                ])
                #expect(result["tcp_fallback"] == true)
                #expect(result["protocol"] == "tcp")
                #expect(result["flags"]?["tc"] == false)
                #expect(result["answers"]?.arrayValue?.count == 20)
                #expect((result["response_size"]?.numberValue ?? 0) > 1232)
                #expect(result["udp_time_ms"] != nil)
            }
            let direct = try await Self.run(["name": "www.imn.test", "protocol": "tcp", "resolver": .string(resolver), "dnssec_ok": true])
            #expect(direct["protocol"] == "tcp")
            #expect(direct["tcp_fallback"] == false)
            #expect(Self.data(direct) == ["192.0.2.10"])
            #expect(direct["edns"]?["do"] == true)
        }
    }

    @Test func aResolverThatNeverAnswersEndsAtTheTimeout() async throws {
        try await Self.withServer("scripts/testbed/dns-faults.py", mode: "silent") { resolver in
            let started = ContinuousClock.now
            let error = await #expect(throws: ModuleError.self) {
                try await Self.run(["name": "www.imn.test", "resolver": .string(resolver), "timeout": 0.2, "retries": 1])
            }
            #expect(error?.message == "dns: no answer from \(resolver) after 2 tries of 0.2 s")
            #expect(ContinuousClock.now - started < .seconds(3))
            let tcp = await #expect(throws: ModuleError.self) {
                try await Self.run(["name": "www.imn.test", "resolver": .string(resolver), "timeout": 0.2, "protocol": "tcp"])
            }
            #expect(tcp?.message.contains("no answer from") == true, "\(tcp?.message ?? "")")
        }
    }

    @Test(arguments: ["garbage", "cut"])
    func aMalformedAnswerIsATypedError(mode: String) async throws {
        try await Self.withServer("scripts/testbed/dns-faults.py", mode: mode) { resolver in
            let error = await #expect(throws: ModuleError.self) {
                try await Self.run(["name": "www.imn.test", "resolver": .string(resolver), "timeout": 0.5])
            }
            #expect(error?.message.contains("malformed DNS answer") == true, "\(error?.message ?? "")")
        }
    }

    @Test func badInputAndRefusedResolvers() async throws {
        let long = String(repeating: "a", count: 64)
        let badName = await #expect(throws: ModuleError.self) {
            try await Self.run(["name": .string("\(long).imn.test"), "resolver": "127.0.0.1:9"])
        }
        #expect(badName?.message.contains("is not a domain name") == true, "\(badName?.message ?? "")")
        let badResolver = await #expect(throws: ModuleError.self) { try await Self.run(["name": "imn.test", "resolver": "nonsense"]) }
        #expect(badResolver?.message.contains("is not an address") == true, "\(badResolver?.message ?? "")")
        let refused = await #expect(throws: ModuleError.self) {
            try await Self.run(["name": "imn.test", "resolver": "127.0.0.1:53"], policy: .publicOnly)
        }
        #expect(refused?.message.contains("refused by the agent's target policy: loopback") == true, "\(refused?.message ?? "")")
        // Nothing listens: the ICMP port unreachable comes back as a refused connection.
        let nobody = await #expect(throws: ModuleError.self) {
            try await Self.run(["name": "imn.test", "resolver": .string("127.0.0.1:\(FreePort.next())"), "timeout": 0.5, "retries": 0])
        }
        #expect(nobody?.message.contains("no DNS service at") == true, "\(nobody?.message ?? "")")
        await #expect(throws: ModuleError.self) { try await Self.run(["name": "imn.test", "type": "WKS"]) }  // the schema's enum
    }
}
