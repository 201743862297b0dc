import FoundationEssentials
import IMNCore

/// `traceroute`: the path to a host, hop by hop, with ICMP echo, UDP or TCP SYN probes whose
/// flow identifier stays constant (Paris traceroute). Per hop: who answered, each probe's RTT
/// from the kernel's receive stamp, ICMP type and code, `*` for silence.
public struct TracerouteModule: MeasurementModule {
    public init() {}

    static let commonInput: [String: JSONValue] = [
        "host": ["type": "string", "minLength": 1, "maxLength": 253, "description": "Host name, IPv4 or IPv6 address."],
        "protocol": ["enum": ["icmp", "udp", "tcp"], "default": "icmp", "description": "Probe kind: ICMP echo, UDP datagram or TCP SYN."],
        "port": ["type": "integer", "minimum": 1, "maximum": 65535, "description": "Destination port (UDP: 33434, TCP: 80 when absent)."],
        "max_ttl": ["type": "integer", "minimum": 1, "maximum": 64, "default": 30],
    ]

    public let spec = ModuleSpec(
        name: "traceroute", version: "1.0.0", description: "The path to a host: per hop, who answered and each probe's RTT (Paris traceroute).",
        inputSchema: [
            "type": "object", "required": ["host"], "additionalProperties": false,
            "properties": .object(
                Self.commonInput.merging([
                    "first_ttl": ["type": "integer", "minimum": 1, "maximum": 64, "default": 1],
                    "probes_per_hop": ["type": "integer", "minimum": 1, "maximum": 10, "default": 3],
                    "wait": [
                        "type": "number", "minimum": 0.05, "maximum": 10, "default": 1, "description": "Seconds to wait for each probe's answer.",
                    ],
                    "in_flight": [
                        "type": "integer", "minimum": 1, "maximum": 64, "default": 16, "description": "Probes awaiting an answer at once.",
                    ],
                    "send_interval": ["type": "number", "minimum": 0, "maximum": 1, "default": 0, "description": "Seconds between two sends."],
                ]) { $1 }),
        ],
        outputDescription:
            "{host, address, family, protocol, port, reached, hop_count, hops:[{ttl, addresses, reached, probes:[{address, rtt_ms, icmp_type, icmp_code, "
            + "reply_ttl, mark} | {timeout: true}]}]}",
        outputSchema: Self.outputSchema, maxConcurrency: 8)

    static let outputSchema: JSONValue = [
        "type": "object", "required": ["host", "address", "family", "protocol", "reached", "hop_count", "hops"],
        "properties": [
            "host": ["type": "string"], "address": ["type": "string"], "family": ["enum": ["ipv4", "ipv6"]],
            "protocol": ["enum": ["icmp", "udp", "tcp"]],
            "reached": ["type": "boolean"], "hop_count": ["type": "integer"],
            "hops": [
                "type": "array",
                "items": [
                    "type": "object", "required": ["ttl", "addresses", "probes", "reached"],
                    "properties": [
                        "ttl": ["type": "integer"], "addresses": ["type": "array", "items": ["type": "string"]], "reached": ["type": "boolean"],
                        "probes": ["type": "array", "items": ["type": "object"]],
                    ],
                ],
            ],
        ],
    ]

    public func run(input: JSONValue, context: ModuleContext) async throws -> JSONValue {
        let host = input["host"]?.stringValue ?? ""
        let options = try Self.options(input)
        let perHop = Int(input["probes_per_hop"]?.numberValue ?? 3)
        let startedAt = ProbeSpans.now()
        let started = ContinuousClock.now
        let (address, hops) = try await TraceRun.hops(to: host, options: options, module: spec.name, context: context) { run, _ in
            try run.pass((options.firstTTL...options.maxTTL).flatMap { Array(repeating: $0, count: perHop) })
        }
        let reached = hops.last?.reached ?? false
        ProbeSpans.record(
            "traceroute \(host)", startedAt: startedAt, length: ContinuousClock.now - started,
            children: hops.compactMap { hop in hop.firstRTT.map { ("hop \(hop.ttl) \(hop.addresses.first ?? "*")", .zero, $0) } },
            attributes: ["net.peer.ip": address.text, "imn.traceroute.hops": "\(hops.count)", "imn.traceroute.reached": "\(reached)"])
        context.metrics.trace(module: spec.name, target: host, reached: reached, hops: hops.count, duration: ContinuousClock.now - started)
        var object: [String: JSONValue] = [
            "host": .string(host), "address": .string(address.text), "family": .string(address.family), "protocol": .string(options.mode.rawValue),
            "first_ttl": .number(Double(options.firstTTL)), "max_ttl": .number(Double(options.maxTTL)), "probes_per_hop": .number(Double(perHop)),
            "reached": .bool(reached), "hop_count": .number(Double(hops.count)), "hops": .array(hops.map(\.json)),
        ]
        if options.mode != .icmp { object["port"] = .number(Double(options.port)) }
        return .object(object)
    }

    /// The options both traceroute and mtr take; a first TTL past the last is refused.
    static func options(_ input: JSONValue) throws(ModuleError) -> TraceRun.Options {
        let mode = TraceProtocol(rawValue: input["protocol"]?.stringValue ?? "icmp") ?? .icmp
        let firstTTL = Int(input["first_ttl"]?.numberValue ?? 1)
        let maxTTL = Int(input["max_ttl"]?.numberValue ?? 30)
        guard firstTTL <= maxTTL else { throw ModuleError("first_ttl \(firstTTL) is past max_ttl \(maxTTL)") }
        return TraceRun.Options(
            mode: mode, port: Int(input["port"]?.numberValue ?? (mode == .tcp ? 80 : 33434)), firstTTL: firstTTL, maxTTL: maxTTL,
            wait: input["wait"]?.numberValue ?? input["timeout"]?.numberValue ?? 1, inFlight: Int(input["in_flight"]?.numberValue ?? 16),
            sendInterval: input["send_interval"]?.numberValue ?? 0)
    }
}

/// One TTL's probes, as traceroute prints a line.
struct TraceHop {
    var ttl: Int
    var probes: [TraceRun.Probe]
    var ipv6: Bool

    /// Answering addresses, most frequent first.
    var addresses: [String] {
        let answered = probes.compactMap { $0.answer?.responder }
        var counts: [String: Int] = [:]
        for address in answered { counts[address, default: 0] += 1 }
        return counts.keys.sorted { (counts[$0] ?? 0, $1) > (counts[$1] ?? 0, $0) }
    }
    var reached: Bool { probes.contains { $0.answer?.reached == true } }
    var rtts: [Duration] { probes.compactMap(\.rtt) }
    var firstRTT: Duration? { rtts.first }

    static func hops(_ probes: [TraceRun.Probe], through last: Int, ipv6: Bool) -> [TraceHop] {
        let ttls = Set(probes.map(\.ttl)).filter { $0 <= last }.sorted()
        return ttls.map { ttl in TraceHop(ttl: ttl, probes: probes.filter { $0.ttl == ttl }, ipv6: ipv6) }
    }

    var json: JSONValue {
        [
            "ttl": .number(Double(ttl)), "addresses": .array(addresses.map(JSONValue.string)), "reached": .bool(reached),
            "probes": .array(
                probes.map { probe in
                    guard let answer = probe.answer, let rtt = probe.rtt else { return ["timeout": true] }
                    var object: [String: JSONValue] = ["address": .string(answer.responder), "rtt_ms": .number(rtt.milliseconds)]
                    if let type = answer.icmpType { object["icmp_type"] = .number(Double(type)) }
                    if let code = answer.icmpCode { object["icmp_code"] = .number(Double(code)) }
                    if let flags = answer.tcpFlags { object["tcp"] = .string(flags) }
                    if let ttl = answer.replyTTL { object["reply_ttl"] = .number(Double(ttl)) }
                    if let mark = TraceRun.unreachableMark(answer, ipv6: ipv6) { object["mark"] = .string(mark) }
                    return .object(object)
                }),
        ]
    }
}
