import Agent
import Foundation
import IMNCore
import IMNTestSupport
import Logging
import Testing

/// Real ICMP to loopback and to a network namespace the test creates.
@Suite(.serialized) struct PingModuleTests {
    static func ping(_ input: JSONValue) async throws -> JSONValue {
        let module = PingModule()
        let schema = JSONSchema(module.spec.inputSchema)
        #expect(schema.validate(input).isEmpty)
        let context = ModuleContext(agentID: "t", requestID: "r", logger: Logger(label: "test"), metrics: .discarding, targetPolicy: .anything)
        return try await module.run(input: schema.applyingDefaults(to: input), context: context)
    }

    /// Average RTT in ms from iputils `ping` to the same target.
    static func iputilsAverage(_ host: String, count: Int = 10) async throws -> Double? {
        let output = try await offload { try Shell.run("ping", ["-n", "-q", "-c", "\(count)", "-i", "0.05", host]) }
        // rtt min/avg/max/mdev = 0.030/0.045/0.061/0.009 ms
        guard let line = output.split(separator: "\n").first(where: { $0.contains("min/avg/max") }),
            let values = line.split(separator: "=").last?.trimmingCharacters(in: .whitespaces).split(separator: "/"),
            values.count >= 2
        else { return nil }
        return Double(values[1])
    }

    @Test(arguments: ["127.0.0.1", "::1"])
    func loopbackHasNoLossAndAgreesWithIputils(host: String) async throws {
        let result = try await Self.ping(["host": .string(host), "count": 10, "interval": 0.05, "timeout": 1])
        #expect(result["loss"] == 0)
        #expect(result["received"] == 10)
        #expect(result["address"] == .string(host))
        let packets = try #require(result["packets"]?.arrayValue)
        #expect(packets.count == 10)
        #expect(packets.allSatisfy { ($0["rtt_ms"]?.numberValue ?? -1) > 0 })
        #expect(result["ttl"] != nil)
        let ours = try #require(result["avg_ms"]?.numberValue)
        if let theirs = try await Self.iputilsAverage(host) {
            #expect(abs(ours - theirs) < 1, "imn \(ours) ms vs iputils \(theirs) ms")
        }
        for key in ["min_ms", "max_ms", "mdev_ms", "jitter_ms"] { #expect(result[key]?.numberValue != nil, "\(key)") }
    }

    @Test(.enabled(if: NetworkNamespace.available, "needs root and iproute2 for a test network namespace"))
    func vethTargetAnswersAndASilentHostIsAllLoss() async throws {
        try await NetworkNamespace.with { namespace in
            let answered = try await Self.ping(["host": .string(namespace.peerAddress), "count": 5, "interval": 0.05, "timeout": 1])
            #expect(answered["loss"] == 0)
            #expect(answered["ttl"] == 64)
            if let theirs = try await Self.iputilsAverage(namespace.peerAddress), let ours = answered["avg_ms"]?.numberValue {
                #expect(abs(ours - theirs) < 1, "imn \(ours) ms vs iputils \(theirs) ms")
            }
            try namespace.run("sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=1")
            let started = ContinuousClock.now
            let silent = try await Self.ping(["host": .string(namespace.peerAddress), "count": 3, "interval": 0.1, "timeout": 0.5])
            #expect(silent["loss"] == 1)
            #expect(silent["received"] == 0)
            #expect(silent["avg_ms"] == nil)
            // 3 probes 0.1 s apart with a 0.5 s timeout take 0.7 s; a run that ignored the timeout
            // would wait for ever. Generous for a loaded CI machine (4.1 s was seen).
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test func unresolvableHostIsAModuleError() async throws {
        await #expect(throws: ModuleError.self) { try await Self.ping(["host": "no-such-host.invalid", "count": 1]) }
    }
}

/// Runs a command and returns its standard output (standard error is discarded).
enum Shell {
    @discardableResult
    static func run(_ command: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw AgentError("\(command) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
