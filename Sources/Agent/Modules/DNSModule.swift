import DNSClient
import FoundationEssentials
import IMNCore

/// `dns`: one query to a resolver (the system's, or an address:port), over UDP with retries or
/// TCP; a truncated UDP answer is asked again over TCP and the result says so. The wire format
/// is ldns's (`DNSClient`); the query time is ours, to the kernel's receive stamp.
public struct DNSModule: MeasurementModule {
    public init() {}

    public static let types = ["A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV", "CAA", "DNSKEY", "DS", "ANY"]

    public let spec = ModuleSpec(
        name: "dns", version: "1.0.0",
        description: "A DNS query: rcode, header flags, the answer, authority and additional records, size, query time.",
        inputSchema: [
            "type": "object", "required": ["name"], "additionalProperties": false,
            "properties": [
                "name": [
                    "type": "string", "minLength": 1, "maxLength": 254, "description": "The name to ask about (for PTR, an address is reversed).",
                ],
                "type": ["enum": .array(Self.types.map(JSONValue.string)), "default": "A"],
                "class": ["enum": ["IN", "CH", "HS"], "default": "IN"],
                "resolver": [
                    "type": "string", "maxLength": 60, "description": "address or address:port ([v6]:port); the system's resolver when absent.",
                ],
                "protocol": ["enum": ["udp", "tcp"], "default": "udp"],
                "recursion_desired": ["type": "boolean", "default": true],
                "dnssec_ok": ["type": "boolean", "default": false, "description": "Sets EDNS's DO bit."],
                "udp_size": ["type": "integer", "minimum": 0, "maximum": 4096, "default": 1232, "description": "EDNS UDP size; 0 sends no EDNS."],
                "timeout": ["type": "number", "minimum": 0.05, "maximum": 30, "default": 2, "description": "Seconds to wait for each try."],
                "retries": ["type": "integer", "minimum": 0, "maximum": 5, "default": 1, "description": "UDP tries after the first."],
            ],
        ],
        outputDescription:
            "{name, question, type, class, resolver, protocol, tcp_fallback, rcode, flags:{qr, aa, tc, rd, ra, ad, cd}, answers:[{name, type, class, ttl, data}], "
            + "authority, additional, edns, response_size, query_time_ms, tries}",
        outputSchema: Self.outputSchema, maxConcurrency: 64)

    static let record: JSONValue = [
        "type": "object", "required": ["name", "type", "class", "ttl", "data"],
        "properties": [
            "name": ["type": "string"], "type": ["type": "string"], "class": ["type": "string"], "ttl": ["type": "integer"],
            "data": ["type": "string"],
        ],
    ]

    static let outputSchema: JSONValue = [
        "type": "object",
        "required": ["name", "type", "resolver", "protocol", "rcode", "flags", "answers", "authority", "additional", "query_time_ms"],
        "properties": [
            "name": ["type": "string"], "question": ["type": "string"], "type": ["type": "string"], "class": ["type": "string"],
            "resolver": ["type": "string"], "protocol": ["enum": ["udp", "tcp"]], "tcp_fallback": ["type": "boolean"], "rcode": ["type": "string"],
            "flags": ["type": "object", "additionalProperties": ["type": "boolean"]],
            "answers": ["type": "array", "items": Self.record], "authority": ["type": "array", "items": Self.record],
            "additional": ["type": "array", "items": Self.record], "response_size": ["type": "integer"],
            "query_time_ms": ["type": "number", "minimum": 0], "tries": ["type": "integer", "minimum": 1],
        ],
    ]

    public func run(input: JSONValue, context: ModuleContext) async throws -> JSONValue {
        let query = DNSQuery(
            name: input["name"]?.stringValue ?? "", type: input["type"]?.stringValue ?? "A", recordClass: input["class"]?.stringValue ?? "IN",
            recursionDesired: input["recursion_desired"]?.boolValue ?? true, dnssecOK: input["dnssec_ok"]?.boolValue ?? false,
            udpPayloadSize: Int(input["udp_size"]?.numberValue ?? 1232))
        let options = DNSExchange.Options(
            transport: input["protocol"]?.stringValue == "tcp" ? .tcp : .udp, timeout: input["timeout"]?.numberValue ?? 2,
            retries: Int(input["retries"]?.numberValue ?? 1))
        let given = input["resolver"]?.stringValue
        let startedAt = ProbeSpans.now()
        let started = ContinuousClock.now
        let target = query.name
        let (resolver, answer): (DNSResolverAddress, DNSExchange.Answer)
        do {
            // UDP waits hold no thread (DNSClient's reactor); only a TCP exchange takes a probe thread.
            resolver = try Self.resolver(given, policy: context.targetPolicy)
            do {
                answer = try await DNSExchange.ask(query, resolver: resolver, options: options) { exchange in
                    try await ProbeThreads.pool.runIfActive { try exchange() }
                }
            } catch let error as DNSError {
                throw ModuleError("dns: \(error)")
            }
        } catch {
            context.metrics.probe(module: spec.name, target: target, success: false, duration: ContinuousClock.now - started)
            throw error
        }
        let message = answer.message
        var phases: [(String, Duration)] = []
        if answer.fellBackToTCP { phases.append(("udp (truncated)", answer.udpTime)) }
        phases.append((answer.transport == .tcp ? "tcp query" : "udp query", answer.queryTime))
        ProbeSpans.record(
            "dns \(query.type) \(query.name)", startedAt: startedAt, phases: phases,
            attributes: ["dns.rcode": message.rcode, "dns.resolver": resolver.description, "dns.answers": "\(message.answer.count)"])
        context.metrics.dns(
            target: target, rcode: message.rcode, lookup: answer.queryTime, duration: ContinuousClock.now - started,
            counts: (message.answer.count, message.authority.count, message.additional.count))
        return Self.json(query: query, resolver: resolver, answer: answer)
    }

    /// The resolver asked: the given one (checked against the target policy), or the system's
    /// (which the operator chose, so the policy does not apply to it).
    static func resolver(_ given: String?, policy: TargetPolicy) throws -> DNSResolverAddress {
        do {
            guard let given else { return try DNSResolverAddress.system() }
            let resolver = try DNSResolverAddress(given)
            try policy.check(resolver.bytes, host: given, text: resolver.address)
            return resolver
        } catch let error as DNSError {
            throw ModuleError("dns: \(error)")
        }
    }

    static func json(query: DNSQuery, resolver: DNSResolverAddress, answer: DNSExchange.Answer) -> JSONValue {
        let message = answer.message
        func records(_ list: [DNSMessage.Record]) -> JSONValue {
            .array(
                list.map { record in
                    [
                        "name": .string(record.name), "type": .string(record.type), "class": .string(record.recordClass),
                        "ttl": .number(Double(record.ttl)), "data": .string(record.data),
                    ]
                })
        }
        let flags = message.flags
        var object: [String: JSONValue] = [
            "name": .string(query.name), "question": .string(query.questionName), "type": .string(query.type), "class": .string(query.recordClass),
            "resolver": .string(resolver.description), "protocol": .string(answer.transport.rawValue), "tcp_fallback": .bool(answer.fellBackToTCP),
            "rcode": .string(message.rcode), "opcode": .string(message.opcode), "id": .number(Double(message.id)),
            "flags": [
                "qr": .bool(flags.qr), "aa": .bool(flags.aa), "tc": .bool(flags.tc), "rd": .bool(flags.rd), "ra": .bool(flags.ra),
                "ad": .bool(flags.ad), "cd": .bool(flags.cd),
            ],
            "answers": records(message.answer), "authority": records(message.authority), "additional": records(message.additional),
            "response_size": .number(Double(message.size)), "query_time_ms": .number(answer.queryTime.milliseconds),
            "tries": .number(Double(answer.tries)),
        ]
        if let size = message.ednsUDPSize { object["edns"] = ["udp_size": .number(Double(size)), "do": .bool(message.ednsDO)] }
        if answer.fellBackToTCP { object["udp_time_ms"] = .number(answer.udpTime.milliseconds) }
        return .object(object)
    }
}
