import Synchronization

/// A 16-byte trace id; all zeros is invalid.
public struct TraceID: Sendable, Hashable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public static func random() -> TraceID { TraceID(high: IDGenerator.next(), low: IDGenerator.next()) }

    public var isValid: Bool { high != 0 || low != 0 }
    public var bytes: [UInt8] { high.bigEndianBytes + low.bigEndianBytes }
    public var description: String { String(hex: bytes) }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        let array = Array(bytes)
        self.init(high: UInt64(bigEndianBytes: array[0..<8]), low: UInt64(bigEndianBytes: array[8..<16]))
    }
}

/// An 8-byte span id; zero is invalid.
public struct SpanID: Sendable, Hashable, CustomStringConvertible {
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value }

    public static func random() -> SpanID { SpanID(IDGenerator.next()) }

    public var isValid: Bool { value != 0 }
    public var bytes: [UInt8] { value.bigEndianBytes }
    public var description: String { String(hex: bytes) }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 8 else { return nil }
        self.init(UInt64(bigEndianBytes: Array(bytes)[0..<8]))
    }
}

/// A finished span, as exported (OTLP `Span`). Times are nanoseconds since 1970.
public struct SpanData: Sendable, Hashable {
    public enum Kind: Int32, Sendable, Hashable {
        case unspecified = 0, `internal` = 1, server = 2, client = 3, producer = 4, consumer = 5
    }
    public enum StatusCode: Int32, Sendable, Hashable { case unset = 0, ok = 1, error = 2 }

    public struct Event: Sendable, Hashable {
        public var timeUnixNano: UInt64
        public var name: String
        public var attributes: [OTLPAttribute]
        public var droppedAttributesCount: UInt32 = 0

        public init(timeUnixNano: UInt64, name: String, attributes: [OTLPAttribute] = []) {
            self.timeUnixNano = timeUnixNano
            self.name = name
            self.attributes = attributes
        }
    }

    public struct Link: Sendable, Hashable {
        public var traceID: TraceID
        public var spanID: SpanID
        public var traceState: String
        public var attributes: [OTLPAttribute]
        public var droppedAttributesCount: UInt32 = 0
        public var flags: UInt32

        public init(traceID: TraceID, spanID: SpanID, traceState: String = "", attributes: [OTLPAttribute] = [], flags: UInt32 = 0x101) {
            self.traceID = traceID
            self.spanID = spanID
            self.traceState = traceState
            self.attributes = attributes
            self.flags = flags
        }
    }

    public var traceID: TraceID
    public var spanID: SpanID
    public var parentSpanID: SpanID?
    public var traceState: String = ""
    public var name: String
    public var kind: Kind
    public var startTimeUnixNano: UInt64
    public var endTimeUnixNano: UInt64
    public var attributes: [OTLPAttribute] = []
    public var droppedAttributesCount: UInt32 = 0
    public var events: [Event] = []
    public var droppedEventsCount: UInt32 = 0
    public var links: [Link] = []
    public var droppedLinksCount: UInt32 = 0
    public var statusCode: StatusCode = .unset
    public var statusMessage: String = ""
    /// W3C trace flags in bits 0–7 (sampled = 1); 0x100 says whether the parent is known to be
    /// remote, 0x200 that it is.
    public var flags: UInt32 = 0x101

    public init(
        traceID: TraceID, spanID: SpanID, parentSpanID: SpanID? = nil, name: String, kind: Kind, startTimeUnixNano: UInt64,
        endTimeUnixNano: UInt64
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.name = name
        self.kind = kind
        self.startTimeUnixNano = startTimeUnixNano
        self.endTimeUnixNano = endTimeUnixNano
    }
}

/// Random ids without a system call each: SplitMix64 over an atomic counter seeded once from the
/// system generator. Ids need to be unique and unpredictable enough to not collide, not secret.
enum IDGenerator {
    private static let state = Atomic<UInt64>(UInt64.random(in: 1...UInt64.max))

    static func next() -> UInt64 {
        while true {
            var value = state.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
            value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
            value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
            value ^= value >> 31
            if value != 0 { return value }  // zero is an invalid id
        }
    }
}

extension UInt64 {
    var bigEndianBytes: [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: self >> (56 - 8 * $0)) } }

    init(bigEndianBytes bytes: ArraySlice<UInt8>) {
        self = bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}

extension String {
    init(hex bytes: [UInt8]) {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        self = String(decoding: text, as: UTF8.self)
    }
}
