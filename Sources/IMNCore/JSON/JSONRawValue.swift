#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A JSON value read in place: its text in the document, decoded only where asked. For hot
/// paths that need a few fields of a large document (the archive reads tens of thousands of
/// result messages a second) without building a ``JSONValue`` tree of it.
///
/// ``read(_:_:)`` makes one after checking the whole document as ``JSONValue/init(parsing:)``
/// would; ``readObject(_:_:)`` hands out an object's members, each checked, in one pass. Values
/// live inside their closure only.
public struct JSONRawValue {
    /// The value's text, without the whitespace around it.
    public let text: UnsafeBufferPointer<UInt8>

    private init(_ text: UnsafeBufferPointer<UInt8>) { self.text = text }

    /// `body` with the document in `bytes`, or nil when `bytes` is not exactly one JSON value.
    public static func read<T>(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (JSONRawValue) -> T?) -> T? {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        let start = parser.index
        guard parser.skipValue(depth: 0) else { return nil }
        let end = parser.index
        parser.skipWhitespace()
        guard parser.index == bytes.count else { return nil }
        return body(JSONRawValue(UnsafeBufferPointer(rebasing: bytes[start..<end])))
    }

    private var first: UInt8 { text.first ?? 0 }

    public var isNull: Bool { first == UInt8(ascii: "n") }

    public var string: String? {
        guard first == UInt8(ascii: "\"") else { return nil }
        var parser = JSONParser(text)
        return parser.string()
    }

    public var number: Double? {
        guard first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return nil }
        var parser = JSONParser(text)
        return parser.number()
    }

    public var bool: Bool? {
        switch first {
        case UInt8(ascii: "t"): true
        case UInt8(ascii: "f"): false
        default: nil
        }
    }

    /// The value as a tree.
    public var value: JSONValue? { JSONParser.parse(text) }

    /// `body` with each member of the object in `bytes` in document order (duplicates included),
    /// each value checked before it is handed over; false when `bytes` is not exactly one valid
    /// JSON object (`body` may have seen some members by then). One pass over the document.
    public static func readObject(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (JSONKey, JSONRawValue) -> Void) -> Bool {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        guard parser.index < bytes.count, bytes[parser.index] == UInt8(ascii: "{") else { return false }
        let text = UnsafeBufferPointer(rebasing: bytes[parser.index...])
        guard let end = walk(text, isObject: true, body) else { return false }
        parser.index += end
        parser.skipWhitespace()
        return parser.index == bytes.count
    }

    /// Each member of an object in document order, duplicates included; nothing for other values.
    public func forEachMember(_ body: (JSONKey, JSONRawValue) -> Void) {
        guard first == UInt8(ascii: "{") else { return }
        _ = Self.walk(text, isObject: true, body)
    }

    /// Each element of an array; nothing for other values.
    public func forEachElement(_ body: (JSONRawValue) -> Void) {
        guard first == UInt8(ascii: "[") else { return }
        _ = Self.walk(text, isObject: false) { body($1) }
    }

    /// The members or elements of the container opening `text`, each value checked before
    /// `body` sees it; the index after the closing bracket, or nil when it is not valid JSON.
    /// The parser's leniency holds: one trailing comma after a member.
    private static func walk(_ text: UnsafeBufferPointer<UInt8>, isObject: Bool, _ body: (JSONKey, JSONRawValue) -> Void) -> Int? {
        let closing = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
        var parser = JSONParser(text)
        parser.index = 1
        var key = JSONKey(quoted: UnsafeBufferPointer(rebasing: text[0..<0]))
        while true {
            parser.skipWhitespace()
            guard parser.index < text.count else { return nil }
            if text[parser.index] == closing { return parser.index + 1 }  // empty, or a trailing comma after a member
            if isObject {
                let keyStart = parser.index
                guard text[keyStart] == UInt8(ascii: "\""), parser.skipString() else { return nil }
                key = JSONKey(quoted: UnsafeBufferPointer(rebasing: text[keyStart..<parser.index]))
                parser.skipWhitespace()
                guard parser.index < text.count, text[parser.index] == UInt8(ascii: ":") else { return nil }
                parser.index += 1
            }
            parser.skipWhitespace()
            let start = parser.index
            guard parser.skipValue(depth: 1) else { return nil }
            body(key, JSONRawValue(UnsafeBufferPointer(rebasing: text[start..<parser.index])))
            parser.skipWhitespace()
            guard parser.index < text.count else { return nil }
            if text[parser.index] == UInt8(ascii: ",") {
                parser.index += 1
            } else if text[parser.index] == closing {
                return parser.index + 1
            } else {
                return nil
            }
        }
    }
}

/// An object member's name as written, escapes and all.
public struct JSONKey {
    /// The name's text with its quotes.
    let quoted: UnsafeBufferPointer<UInt8>

    /// Whether the name is `name`, a name without backslashes or quotes (the key is decoded
    /// first only when it is written longer than `name`, which escapes make it).
    public func `is`(_ name: StaticString) -> Bool {
        let count = name.utf8CodeUnitCount
        guard let base = quoted.baseAddress, quoted.count >= count + 2 else { return false }
        if quoted.count == count + 2 { return memcmp(base + 1, name.utf8Start, count) == 0 }
        return quoted.contains(UInt8(ascii: "\\")) && string.utf8.elementsEqual(UnsafeBufferPointer(start: name.utf8Start, count: count))
    }

    /// The name decoded.
    public var string: String {
        var parser = JSONParser(quoted)
        return parser.string() ?? ""
    }
}
