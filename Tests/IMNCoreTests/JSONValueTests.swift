import Foundation
import IMNCore
import IMNTestSupport
import Testing

/// `JSONValue.bytes` writes JSON itself: byte for byte what JSONEncoder (sorted keys, slashes
/// unescaped) writes, on hand-picked and on random values.
struct JSONValueTests {
    static func encoded(_ value: JSONValue) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    @Test func writesWhatJSONEncoderWrites() throws {
        let values: [JSONValue] = [
            .null, true, false, 0, -0.0, 1, -7, 0.1, 1e-5, 2.5e-7, 1.5e300, 1e21, 9_007_199_254_740_992, 123456789.123, 0.30000000000000004,
            "", "a\"b\\c/d\n\t\r\u{08}\u{0c}\u{01}\u{1b}\u{1f}\u{7f}é\u{2028}😀", [], [:], [1, "x", [true, nil]],
            ["b": 1, "B": 2, "a10": 3, "a9": 4, "_x": 5, "ä": 6, "1": 7, "10": 8, "2": 9, "nested": ["z": [], "a": [:]]],
        ]
        for value in values { #expect(value.bytes == (try Self.encoded(value)), "\(value)") }
    }

    @Test func randomDocumentsMatch() throws {
        var generator = SplitMix(seed: 42)
        for _ in 0..<500 {
            let value = Self.random(depth: 3, &generator)
            #expect(value.bytes == (try Self.encoded(value)), "\(value)")
            #expect(JSONValue(parsing: value.bytes) == value || value.containsNegativeZero, "round trip of \(value)")
        }
        #expect(JSONValue.number(.infinity).bytes == Array("null".utf8), "JSON holds no infinity")
    }

    static func random(depth: Int, _ generator: inout SplitMix) -> JSONValue {
        let characters = Array("aZ09 _-/\\\"\n\t\u{01}é😀")
        func text() -> String {
            String((0..<Int.random(in: 0...6, using: &generator)).map { _ in characters.randomElement(using: &generator) ?? "a" })
        }
        switch Int.random(in: 0..<(depth > 0 ? 7 : 5), using: &generator) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2: return .number(Double(Int.random(in: -1_000_000...1_000_000, using: &generator)))
        case 3: return .number(Double.random(in: -1e6...1e6, using: &generator) * pow(10, Double(Int.random(in: -12...12, using: &generator))))
        case 4: return .string(text())
        case 5: return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in random(depth: depth - 1, &generator) })
        default:
            var fields: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...4, using: &generator) { fields[text()] = random(depth: depth - 1, &generator) }
            return .object(fields)
        }
    }
}

extension JSONValue {
    var containsNegativeZero: Bool {
        switch self {
        case .number(let value): value == 0 && value.sign == .minus
        case .array(let values): values.contains { $0.containsNegativeZero }
        case .object(let fields): fields.values.contains { $0.containsNegativeZero }
        default: false
        }
    }
}
