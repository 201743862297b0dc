import IMNCore
import Logging
import Testing

@testable import Agent

/// The agent refuses special-purpose targets after resolving them, unless the operator allows
/// their range. Nothing here sends a packet: a refused target fails before any socket is opened.
struct TargetPolicyTests {
    static func refusal(_ host: String, _ policy: TargetPolicy = .publicOnly) -> String? {
        do {
            _ = try ResolvedAddress.resolve(host, policy: policy)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func everyRefusedRangeParses() {
        #expect(TargetPolicy.refused.count == 16)
    }

    @Test(arguments: [
        "10.0.0.1", "169.254.169.254", "::1", "127.0.0.1", "192.168.1.1", "172.16.0.1", "100.64.0.1", "0.0.0.0", "224.0.0.1",
        "255.255.255.255", "fe80::1", "fd00::1", "ff02::1", "::", "::ffff:10.0.0.1", "::ffff:127.0.0.1",
    ])
    func specialPurposeAddressesAreRefusedByDefault(_ host: String) {
        let refusal = Self.refusal(host)
        #expect(refusal?.contains("refused by the agent's target policy") == true, "\(host): \(refusal ?? "allowed")")
        #expect(refusal?.contains("--allow-targets") == true)
    }

    @Test(arguments: ["8.8.8.8", "1.1.1.1", "172.32.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
    func publicAddressesPass(_ host: String) {
        #expect(Self.refusal(host) == nil)
    }

    @Test func aNameResolvingToAPrivateAddressIsRefusedWithBoth() {
        let refusal = Self.refusal("localhost")
        #expect(refusal?.contains("localhost (") == true, "\(refusal ?? "allowed")")
        #expect(refusal?.contains("loopback") == true)
    }

    @Test func allowedRangesPassAndOnlyThose() throws {
        let policy = try TargetPolicy(allowing: "127.0.0.0/8, ::1/128,10.1.2.3")
        #expect(Self.refusal("127.0.0.1", policy) == nil)
        #expect(Self.refusal("::1", policy) == nil)
        #expect(Self.refusal("::ffff:127.0.0.1", policy) == nil, "a mapped address is judged as IPv4")
        #expect(Self.refusal("10.1.2.3", policy) == nil, "a bare address is one host")
        #expect(Self.refusal("10.1.2.4", policy) != nil)
        #expect(Self.refusal("169.254.169.254", policy) != nil)
        #expect(Self.refusal("10.0.0.1", .anything) == nil)
        #expect(try TargetPolicy(allowing: "").allowed.isEmpty)
    }

    @Test(arguments: ["10.0.0.0/33", "nonsense", "::/129", "10.0.0.0/", "1.2.3/8"])
    func badRangesAreErrors(_ text: String) {
        #expect(throws: ModuleError.self) { try TargetPolicy(allowing: text) }
    }

    @Test func cidrsPrintAsWritten() throws {
        #expect(try CIDR("10.0.0.0/8").description == "10.0.0.0/8")
        #expect(try CIDR("fe80::/10").description == "fe80::/10")
        #expect(try CIDR("192.168.1.1").description == "192.168.1.1/32")
    }

    @Test func modulesRefuseBeforeProbing() async throws {
        let context = ModuleContext(agentID: "t", requestID: "r", logger: Logger(label: "test"), metrics: .discarding)
        do {
            _ = try await PingModule().run(input: ["host": "10.0.0.1", "count": 1], context: context)
            Issue.record("ping to 10.0.0.1 ran")
        } catch let error as ModuleError {
            #expect(error.message.contains("private address (10.0.0.0/8)"))
        }
        do {
            _ = try await TCPingModule().run(input: ["host": "169.254.169.254", "port": 80, "count": 1], context: context)
            Issue.record("tcping to 169.254.169.254 ran")
        } catch let error as ModuleError {
            #expect(error.message.contains("link-local"))
        }
    }
}
