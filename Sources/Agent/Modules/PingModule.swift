import FoundationEssentials
import Glibc
import IMNCore
import Synchronization

/// `ping_module`: ICMP echo to a host (IPv4, IPv6, or a name the agent resolves; the address
/// is reported). RTT per packet from the kernel's receive timestamp; replies matched by
/// identifier, sequence and a per-run token in the payload.
public struct PingModule: MeasurementModule {
    public init() {}

    public let spec = ModuleSpec(
        name: "ping_module", version: "1.0.0", description: "ICMP echo: per-packet RTTs, loss, min/avg/max/mdev, jitter, TTL.",
        inputSchema: [
            "type": "object", "required": ["host"], "additionalProperties": false,
            "properties": [
                "host": ["type": "string", "minLength": 1, "maxLength": 253, "description": "Host name, IPv4 or IPv6 address."],
                "count": ["type": "integer", "minimum": 1, "maximum": 100, "default": 4],
                "interval": ["type": "number", "minimum": 0.01, "maximum": 60, "default": 1, "description": "Seconds between probes."],
                "timeout": ["type": "number", "minimum": 0.01, "maximum": 60, "default": 2, "description": "Seconds to wait for each reply."],
                "size": ["type": "integer", "minimum": 16, "maximum": 1472, "default": 56, "description": "Payload bytes."],
            ],
        ],
        outputDescription:
            "{host, address, family, socket, sent, received, loss, loss_percent, packets:[{seq, rtt_ms, ttl}], min_ms, avg_ms, max_ms, mdev_ms, jitter_ms, ttl}",
        maxConcurrency: 16)

    public func run(input: JSONValue, context: ModuleContext) async throws -> JSONValue {
        let host = input["host"]?.stringValue ?? ""
        let started = ContinuousClock.now
        let options = PingRun.Options(
            count: Int(input["count"]?.numberValue ?? 4), interval: input["interval"]?.numberValue ?? 1,
            timeout: input["timeout"]?.numberValue ?? 2, size: Int(input["size"]?.numberValue ?? 56))
        let cancelled = CancelFlag()
        let result = try await withTaskCancellationHandler {
            try await ProbeThreads.pool.runIfActive {
                let address = try ResolvedAddress.resolve(host, policy: context.targetPolicy)
                return try PingRun.run(address, options, cancelled: cancelled)
            }
        } onCancel: {
            cancelled.set()
        }
        context.metrics.run(
            module: spec.name, family: result.address.family, target: host, rtts: result.rtts, duration: ContinuousClock.now - started)
        return result.json(host: host)
    }
}

final class CancelFlag: Sendable {
    private let flag = Atomic(false)
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}

/// One ping run on a probe thread.
enum PingRun {
    struct Options: Sendable {
        var count: Int
        var interval: Double
        var timeout: Double
        var size: Int
    }

    struct Result: Sendable {
        var address: ResolvedAddress
        var socketKind: String
        /// Per sequence (index 0 = seq 1): the RTT, or nil when lost.
        var rtts: [Duration?]
        var ttls: [Int?]
        var duplicates: Int

        var received: Int { rtts.compactMap { $0 }.count }
        var loss: Double { rtts.isEmpty ? 0 : Double(rtts.count - received) / Double(rtts.count) }

        func json(host: String) -> JSONValue {
            let times = rtts.compactMap { $0?.milliseconds }
            var object: [String: JSONValue] = [
                "host": .string(host), "address": .string(address.text), "family": .string(address.family), "socket": .string(socketKind),
                "sent": .number(Double(rtts.count)), "received": .number(Double(received)), "duplicates": .number(Double(duplicates)),
                "loss": .number(loss), "loss_percent": .number((loss * 1000).rounded() / 10),
                "packets": .array(
                    rtts.enumerated().map { index, rtt in
                        [
                            "seq": .number(Double(index + 1)), "rtt_ms": rtt.map { .number($0.milliseconds) } ?? .null,
                            "ttl": ttls[index].map { .number(Double($0)) } ?? .null,
                        ]
                    }),
            ]
            if !times.isEmpty {
                let mean = times.reduce(0, +) / Double(times.count)
                let meanSquares = times.map { $0 * $0 }.reduce(0, +) / Double(times.count)
                object["min_ms"] = .number(times.min() ?? 0)
                object["max_ms"] = .number(times.max() ?? 0)
                object["avg_ms"] = .number(mean)
                object["mdev_ms"] = .number(max(0, meanSquares - mean * mean).squareRoot())
                // Mean absolute difference between consecutive RTTs.
                let steps = zip(times, times.dropFirst()).map { abs($1 - $0) }
                object["jitter_ms"] = .number(steps.isEmpty ? 0 : steps.reduce(0, +) / Double(steps.count))
            }
            if let ttl = ttls.compactMap({ $0 }).last { object["ttl"] = .number(Double(ttl)) }
            return .object(object)
        }
    }

    static func run(_ address: ResolvedAddress, _ options: Options, cancelled: CancelFlag) throws -> Result {
        let socket = try ICMPEcho(ipv6: address.isIPv6)
        var rtts = [Duration?](repeating: nil, count: options.count)
        var ttls = [Int?](repeating: nil, count: options.count)
        var sent: [(realtime: timespec, monotonic: ContinuousClock.Instant)?] = Array(repeating: nil, count: options.count)
        var duplicates = 0
        let start = ContinuousClock.now
        let interval = Duration.milliseconds(Int64(options.interval * 1000))
        let timeout = Duration.milliseconds(Int64(options.timeout * 1000))
        var next = 0
        while !cancelled.isSet {
            let now = ContinuousClock.now
            if next < options.count, now >= start + interval * next {
                sent[next] = try socket.send(to: address, sequence: UInt16(truncatingIfNeeded: next + 1), size: options.size)
                next += 1
                continue
            }
            let lastDeadline = next == options.count ? (sent[options.count - 1]?.monotonic ?? now) + timeout : start + interval * next
            if next == options.count && (now >= lastDeadline || rtts.allSatisfy({ $0 != nil })) { break }
            guard let reply = socket.receive(timeout: min(lastDeadline - now, .milliseconds(100))) else { continue }
            let index = Int(reply.sequence) - 1
            guard index >= 0, index < next, let sentAt = sent[index] else { continue }
            if rtts[index] != nil {
                duplicates += 1
                continue
            }
            let monotonic = reply.arrived - sentAt.monotonic
            guard monotonic <= timeout else { continue }  // too late: counted as lost
            var rtt = monotonic
            if let kernel = reply.kernelTime {
                let stamped = Duration.seconds(kernel.tv_sec - sentAt.realtime.tv_sec) + .nanoseconds(kernel.tv_nsec - sentAt.realtime.tv_nsec)
                // Trust the kernel's stamp unless the wall clock jumped in between.
                if stamped > .zero && stamped <= monotonic + .milliseconds(1) { rtt = stamped }
            }
            rtts[index] = rtt
            ttls[index] = reply.ttl
        }
        return Result(address: address, socketKind: socket.kind, rtts: rtts, ttls: ttls, duplicates: duplicates)
    }
}

extension PingModule {
    /// One probe's RTT in ms (for benchmarks).
    public static func probeOnce(_ host: String) async throws -> Double? {
        try await ProbeThreads.pool.runIfActive {
            let result = try PingRun.run(
                try ResolvedAddress.resolve(host, policy: .anything), .init(count: 1, interval: 1, timeout: 1, size: 56), cancelled: CancelFlag())
            return result.rtts.first??.milliseconds
        }
    }

    /// A whole run; returns the replies received (for benchmarks).
    public static func probeRun(_ host: String, count: Int, interval: Double) async throws -> Int {
        try await ProbeThreads.pool.runIfActive {
            try PingRun.run(
                try ResolvedAddress.resolve(host, policy: .anything), .init(count: count, interval: interval, timeout: 1, size: 56),
                cancelled: CancelFlag()
            )
            .received
        }
    }
}
