import IMNCore
import Tracing

/// `OTEL_PROPAGATORS`: the headers that carry context between processes. `tracecontext`
/// (`traceparent`, `tracestate`) and `baggage` (W3C Baggage), both by default; `none` for neither.
public struct OTLPPropagators: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let traceContext = OTLPPropagators(rawValue: 1)
    public static let baggage = OTLPPropagators(rawValue: 2)
    public static let `default`: OTLPPropagators = [.traceContext, .baggage]

    /// An unsupported name (b3, jaeger, xray, ottrace…) is a warning and left out.
    public static func fromEnvironment(_ environment: [String: String], warnings: inout [String]) -> OTLPPropagators {
        guard let text = environment["OTEL_PROPAGATORS"]?.trimmed, !text.isEmpty else { return .default }
        var propagators: OTLPPropagators = []
        for name in text.lowercased().split(separator: ",").map(\.trimmed) {
            switch name {
            case "tracecontext": propagators.insert(.traceContext)
            case "baggage": propagators.insert(.baggage)
            case "none": break
            default: warnings.append("OTEL_PROPAGATORS: \"\(name)\" is not supported (tracecontext, baggage, none); left out")
            }
        }
        return propagators
    }
}

/// W3C Baggage: name/value pairs a request carries through every process it reaches, in the
/// `baggage` header (at most 180 members and 8192 bytes; more is left out whole).
public struct OTLPBaggage: Sendable, Hashable {
    public struct Member: Sendable, Hashable {
        public var key: String
        public var value: String
        /// `;`-separated properties, kept as they came.
        public var properties: String

        public init(key: String, value: String, properties: String = "") {
            self.key = key
            self.value = value
            self.properties = properties
        }
    }

    public var members: [Member]

    public init(_ members: [Member]) { self.members = members }

    public subscript(key: String) -> String? { members.last { $0.key == key }?.value }

    /// Parses a `baggage` header; malformed members are skipped. Nil when nothing is left.
    public init?(header: String) {
        guard header.utf8.count <= 8192 else { return nil }
        var members: [Member] = []
        for item in header.split(separator: ",").prefix(180) {
            let parts = item.split(separator: ";", maxSplits: 1)
            let pair = parts[0].split(separator: "=", maxSplits: 1).map(\.trimmed)
            guard pair.count == 2, !pair[0].isEmpty, pair[0].allSatisfy(Self.isTokenCharacter), let value = pair[1].percentDecoded else { continue }
            members.append(Member(key: pair[0], value: value, properties: parts.count == 2 ? parts[1].trimmed : ""))
        }
        guard !members.isEmpty else { return nil }
        self.members = members
    }

    /// The `baggage` header: values percent-encoded where W3C requires.
    public var header: String {
        members.map { member in
            "\(member.key)=\(Self.encode(member.value))" + (member.properties.isEmpty ? "" : ";\(member.properties)")
        }.joined(separator: ",")
    }

    static func isTokenCharacter(_ character: Character) -> Bool {
        guard let ascii = character.asciiValue, ascii > 0x20, ascii < 0x7F else { return false }
        return !"()<>@,;:\\\"/[]?={}".contains(character)
    }

    /// Everything outside baggage-octet (printable ASCII except space, `"`, `,`, `;`, `\`) and `%` percent-encoded.
    static func encode(_ value: String) -> String {
        var encoded = ""
        for byte in value.utf8 {
            if byte > 0x20, byte < 0x7F, !"\",;\\%".utf8.contains(byte) {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += (byte < 0x10 ? "%0" : "%") + String(byte, radix: 16, uppercase: true)
            }
        }
        return encoded
    }
}

private enum OTLPBaggageKey: ServiceContextKey {
    typealias Value = OTLPBaggage
    static let nameOverride: String? = "otlp-baggage"
}

extension ServiceContext {
    /// The W3C Baggage the current request carries, if any.
    public var otlpBaggage: OTLPBaggage? {
        get { self[OTLPBaggageKey.self] }
        set { self[OTLPBaggageKey.self] = newValue }
    }
}
