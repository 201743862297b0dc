import FoundationEssentials
import Glibc
import IMNCore

/// `mtr`: rounds of one probe per hop over the path to a host (Paris-style, one flow), with
/// per-hop loss and last/avg/best/worst/stdev RTT, as `mtr --report` prints them.
public struct MTRModule: MeasurementModule {
    public init() {}

    public let spec = ModuleSpec(
        name: "mtr", version: "1.0.0", description: "Repeated rounds over the path to a host: per-hop loss and last/avg/best/worst/stdev RTT.",
        inputSchema: [
            "type": "object", "required": ["host"], "additionalProperties": false,
            "properties": .object(
                TracerouteModule.commonInput.merging([
                    "count": ["type": "integer", "minimum": 1, "maximum": 100, "default": 10, "description": "Rounds."],
                    "interval": [
                        "type": "number", "minimum": 0.05, "maximum": 10, "default": 1, "description": "Seconds from one round's start to the next.",
                    ],
                    "timeout": [
                        "type": "number", "minimum": 0.05, "maximum": 10, "default": 1, "description": "Seconds to wait for each probe's answer.",
                    ],
                ]) { $1 }),
        ],
        outputDescription:
            "{host, address, family, protocol, rounds, reached, hop_count, hops:[{ttl, host, addresses, sent, received, loss_percent, last_ms, avg_ms, "
            + "best_ms, worst_ms, stdev_ms}]}",
        outputSchema: Self.outputSchema, maxConcurrency: 8)

    static let outputSchema: JSONValue = [
        "type": "object", "required": ["host", "address", "protocol", "rounds", "reached", "hop_count", "hops"],
        "properties": [
            "host": ["type": "string"], "address": ["type": "string"], "protocol": ["enum": ["icmp", "udp", "tcp"]], "rounds": ["type": "integer"],
            "reached": ["type": "boolean"], "hop_count": ["type": "integer"],
            "hops": [
                "type": "array",
                "items": [
                    "type": "object", "required": ["ttl", "addresses", "sent", "received", "loss_percent"],
                    "properties": [
                        "ttl": ["type": "integer"], "host": ["type": ["string", "null"]],
                        "addresses": ["type": "array", "items": ["type": "string"]],
                        "sent": ["type": "integer"], "received": ["type": "integer"],
                        "loss_percent": ["type": "number", "minimum": 0, "maximum": 100],
                    ],
                ],
            ],
        ],
    ]

    public func run(input: JSONValue, context: ModuleContext) async throws -> JSONValue {
        let host = input["host"]?.stringValue ?? ""
        var given = try TracerouteModule.options(input)
        given.inFlight = 64  // a round's probes all go at once
        let options = given
        let rounds = Int(input["count"]?.numberValue ?? 10)
        let interval = Duration.milliseconds(Int64((input["interval"]?.numberValue ?? 1) * 1000))
        let startedAt = ProbeSpans.now()
        let started = ContinuousClock.now
        let (address, hops) = try await TraceRun.hops(to: host, options: options, module: spec.name, context: context) { run, cancelled in
            for round in 0..<rounds {
                let roundStart = ContinuousClock.now
                try run.pass(Array(options.firstTTL...(run.endTTL ?? options.maxTTL)))
                if round < rounds - 1 { try Self.sleep(until: roundStart + interval, cancelled: cancelled) }
            }
        }
        let reached = hops.last?.reached ?? false
        ProbeSpans.record(
            "mtr \(host)", startedAt: startedAt, length: ContinuousClock.now - started, children: [],
            attributes: ["net.peer.ip": address.text, "imn.traceroute.hops": "\(hops.count)", "imn.traceroute.reached": "\(reached)"])
        context.metrics.trace(module: spec.name, target: host, reached: reached, hops: hops.count, duration: ContinuousClock.now - started)
        return [
            "host": .string(host), "address": .string(address.text), "family": .string(address.family), "protocol": .string(options.mode.rawValue),
            "rounds": .number(Double(rounds)), "reached": .bool(reached), "hop_count": .number(Double(hops.count)),
            "hops": .array(hops.map(Self.json)),
        ]
    }

    static func sleep(until deadline: ContinuousClock.Instant, cancelled: CancelFlag) throws(ModuleError) {
        while ContinuousClock.now < deadline {
            if cancelled.isSet { throw ModuleError("cancelled") }
            let left = min(deadline - ContinuousClock.now, .milliseconds(50))
            if left > .zero { usleep(UInt32(max(1, left.nanoseconds / 1000))) }
        }
    }

    /// One line of `mtr --report`: sample standard deviation, as mtr computes it.
    static func json(_ hop: TraceHop) -> JSONValue {
        let times = hop.rtts.map(\.milliseconds)
        var object: [String: JSONValue] = [
            "ttl": .number(Double(hop.ttl)), "host": hop.addresses.first.map(JSONValue.string) ?? .null,
            "addresses": .array(hop.addresses.map(JSONValue.string)), "sent": .number(Double(hop.probes.count)),
            "received": .number(Double(times.count)), "reached": .bool(hop.reached),
            "loss_percent": .number(
                hop.probes.isEmpty ? 0 : (Double(hop.probes.count - times.count) / Double(hop.probes.count) * 1000).rounded() / 10),
        ]
        if let last = hop.probes.last(where: { $0.rtt != nil })?.rtt { object["last_ms"] = .number(last.milliseconds) }
        if !times.isEmpty {
            let mean = times.reduce(0, +) / Double(times.count)
            let squares = times.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
            object["avg_ms"] = .number(mean)
            object["best_ms"] = .number(times.min() ?? 0)
            object["worst_ms"] = .number(times.max() ?? 0)
            object["stdev_ms"] = .number(times.count > 1 ? (squares / Double(times.count - 1)).squareRoot() : 0)
        }
        return .object(object)
    }
}
