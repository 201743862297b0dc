/// A JSON value read in place: its text in the document, decoded only where asked. For hot
/// paths that need a few fields of a large document (the archive reads tens of thousands of
/// result messages a second) without building a ``JSONValue`` tree of it.
///
/// Only ``read(_:_:)`` makes one, after checking the whole document as ``JSONValue/init(parsing:)``
/// would; the value is valid inside its closure only.
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

    /// Each member of an object in document order, duplicates included; nothing for other values.
    public func forEachMember(_ body: (JSONKey, JSONRawValue) -> Void) {
        guard first == UInt8(ascii: "{") else { return }
        forEach(isObject: true, body)
    }

    /// Each element of an array; nothing for other values.
    public func forEachElement(_ body: (JSONRawValue) -> Void) {
        guard first == UInt8(ascii: "[") else { return }
        forEach(isObject: false) { body($1) }
    }

    /// The text was checked by ``read(_:_:)``: this only walks it.
    private func forEach(isObject: Bool, _ body: (JSONKey, JSONRawValue) -> Void) {
        var parser = JSONParser(text)
        parser.index = 1
        var key = JSONKey(quoted: UnsafeBufferPointer(rebasing: text[0..<0]))
        while true {
            parser.skipWhitespace()
            guard parser.index < text.count, text[parser.index] != UInt8(ascii: "}"), text[parser.index] != UInt8(ascii: "]") else { return }
            if isObject {
                let keyStart = parser.index
                guard parser.skipString() else { return }
                key = JSONKey(quoted: UnsafeBufferPointer(rebasing: text[keyStart..<parser.index]))
                parser.skipWhitespace()
                parser.index += 1  // :
            }
            parser.skipWhitespace()
            let start = parser.index
            guard parser.skipValue(depth: 1) else { return }
            body(key, JSONRawValue(UnsafeBufferPointer(rebasing: text[start..<parser.index])))
            parser.skipWhitespace()
            guard parser.index < text.count, text[parser.index] == UInt8(ascii: ",") else { return }
            parser.index += 1
        }
    }
}

/// An object member's name as written, escapes and all.
public struct JSONKey {
    /// The name's text with its quotes.
    let quoted: UnsafeBufferPointer<UInt8>

    /// Whether the name is `name` (decoded first when it holds escapes).
    public func `is`(_ name: StaticString) -> Bool {
        let expected = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        let inner = quoted.count >= 2 ? UnsafeBufferPointer(rebasing: quoted[1..<quoted.count - 1]) : quoted
        if !inner.contains(UInt8(ascii: "\\")) { return inner.elementsEqual(expected) }
        return string.utf8.elementsEqual(expected)
    }

    /// The name decoded.
    public var string: String {
        var parser = JSONParser(quoted)
        return parser.string() ?? ""
    }
}
