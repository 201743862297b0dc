/// Reading past a value without building it: accepts exactly what ``JSONParser/parse(_:)`` accepts
/// (a test compares the two), allocating nothing for the usual ASCII document.
extension JSONParser {
    /// Moves past the value here (and the whitespace before it); false when it is not valid JSON.
    mutating func skipValue(depth: Int) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "{"): return skipContainer(closing: UInt8(ascii: "}"), depth: depth + 1)
        case UInt8(ascii: "["): return skipContainer(closing: UInt8(ascii: "]"), depth: depth + 1)
        case UInt8(ascii: "\""): return skipString()
        case UInt8(ascii: "t"): return literal("true", .null) != nil
        case UInt8(ascii: "f"): return literal("false", .null) != nil
        case UInt8(ascii: "n"): return literal("null", .null) != nil
        default: return skipNumber()
        }
    }

    /// A number as ``number()`` reads it, without making it: a plain decimal of at most 300
    /// digits in all is always finite and never underflows, so only the rest is converted to check.
    private mutating func skipNumber() -> Bool {
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        var digits = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "0") {
            index += 1
            digits = 1
        } else {
            while index < bytes.count, Self.isDigit(bytes[index]) {
                digits += 1
                index += 1
            }
        }
        guard digits > 0 else { return false }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, Self.isDigit(bytes[index]) else { return false }
            while index < bytes.count, Self.isDigit(bytes[index]) {
                digits += 1
                index += 1
            }
        }
        if digits <= 300, index == bytes.count || (bytes[index] != UInt8(ascii: "e") && bytes[index] != UInt8(ascii: "E")) { return true }
        index = start
        return number() != nil
    }

    /// An object or an array from its opening bracket, with the parser's leniency: one trailing
    /// comma after at least one member.
    private mutating func skipContainer(closing: UInt8, depth: Int) -> Bool {
        guard depth <= Self.maxDepth else { return false }
        let isObject = closing == UInt8(ascii: "}")
        index += 1
        while true {
            skipWhitespace()
            guard index < bytes.count else { return false }
            if bytes[index] == closing {  // empty, or a trailing comma after a member
                index += 1
                return true
            }
            if isObject {
                guard bytes[index] == UInt8(ascii: "\""), skipString() else { return false }
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return false }
                index += 1
            }
            guard skipValue(depth: depth) else { return false }
            skipWhitespace()
            guard index < bytes.count else { return false }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == closing {
                index += 1
                return true
            } else {
                return false
            }
        }
    }

    /// A string from its opening quote: escapes checked, control characters refused, UTF-8
    /// checked when the string has bytes beyond ASCII (escapes are ASCII, so the raw text is
    /// valid UTF-8 exactly when the decoded string is).
    mutating func skipString() -> Bool {
        index += 1  // "
        let start = index
        var ascii = true
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return ascii || String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), as: UTF8.self) != nil
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return false }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                    UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    guard unicodeEscape() != nil else { return false }
                default: return false
                }
            case 0..<0x20:
                return false
            case 0x80...:
                ascii = false
            default:
                break
            }
        }
        return false
    }
}
