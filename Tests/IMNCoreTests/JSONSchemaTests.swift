import IMNCore
import Testing

@Suite struct JSONSchemaTests {
    static let ping = JSONSchema([
        "type": "object",
        "required": ["host"],
        "additionalProperties": false,
        "properties": [
            "host": ["type": "string", "minLength": 1, "maxLength": 253],
            "count": ["type": "integer", "minimum": 1, "maximum": 100, "default": 4],
            "interval": ["type": "number", "exclusiveMinimum": 0, "default": 1.0],
            "family": ["enum": ["ipv4", "ipv6", "any"], "default": "any"],
            "tags": ["type": "array", "items": ["type": "string", "pattern": "^[a-z]+$"], "maxItems": 2],
        ],
    ])

    @Test func acceptsValidInputAndFillsDefaults() {
        let input: JSONValue = ["host": "127.0.0.1", "count": 3]
        #expect(Self.ping.validate(input).isEmpty)
        let filled = Self.ping.applyingDefaults(to: input)
        #expect(filled["count"] == 3)
        #expect(filled["interval"] == 1.0)
        #expect(filled["family"] == "any")
        #expect(filled["tags"] == nil)
    }

    @Test func reportsEveryViolationWithAPointer() {
        let input: JSONValue = ["count": 0, "interval": 0, "family": "ipx", "extra": true, "tags": ["ok", "NOT", "x"]]
        let violations = Self.ping.validate(input)
        let found = Set(violations.map { "\($0.pointer) \($0.keyword)" })
        #expect(
            found == [
                "/host required", "/count minimum", "/interval exclusiveMinimum", "/family enum", "/extra additionalProperties",
                "/tags maxItems", "/tags/1 pattern",
            ])
    }

    @Test func typeMismatchesAndIntegers() {
        #expect(Self.ping.validate(["host": 42]).map(\.keyword) == ["type"])
        #expect(Self.ping.validate(["host": "h", "count": 2.5]).map(\.pointer) == ["/count"])
        #expect(Self.ping.validate(["host": "h", "count": 2.0]).isEmpty, "2.0 is an integer")
        #expect(Self.ping.validate("just a string").map(\.keyword) == ["type"])
        let nullable = JSONSchema(["type": ["string", "null"]])
        #expect(nullable.validate(nil).isEmpty)
        #expect(!nullable.validate(1).isEmpty)
    }

    @Test func formats() {
        let schema = JSONSchema([
            "type": "object",
            "properties": [
                "v4": ["format": "ipv4"], "v6": ["format": "ipv6"], "name": ["format": "hostname"], "uri": ["format": "uri"],
            ],
        ])
        #expect(schema.validate(["v4": "10.1.2.3", "v6": "::1", "name": "example.org", "uri": "https://example.org/x"]).isEmpty)
        let bad = schema.validate(["v4": "10.1.2", "v6": "1:::2", "name": "-bad-.org", "uri": "not a uri"])
        #expect(Set(bad.map(\.pointer)) == ["/v4", "/v6", "/name", "/uri"])
    }

    @Test func combinators() {
        let target = JSONSchema(["oneOf": [["type": "string", "format": "ipv4"], ["type": "string", "format": "ipv6"]]])
        #expect(target.validate("192.0.2.1").isEmpty)
        #expect(target.validate("nope").map(\.keyword) == ["oneOf"])
        let any = JSONSchema(["anyOf": [["type": "integer"], ["type": "string"]]])
        #expect(any.validate(3).isEmpty)
        #expect(any.validate(true).map(\.keyword) == ["anyOf"])
        let all = JSONSchema(["allOf": [["type": "integer"], ["minimum": 10]]])
        #expect(all.validate(5).map(\.keyword) == ["minimum"])
        #expect(JSONSchema(["const": "x"]).validate("y").map(\.keyword) == ["const"])
    }

    @Test func unsupportedKeywordsAreReported() {
        let schema = JSONSchema([
            "type": "object", "title": "t",
            "properties": ["a": ["type": "string", "contentEncoding": "base64"], "b": ["format": "email"]],
            "patternProperties": ["^x": ["type": "string"]],
        ])
        #expect(schema.unsupportedKeywords == ["/patternProperties", "/properties/a/contentEncoding", "/properties/b/format"])
        #expect(Self.ping.unsupportedKeywords.isEmpty)
    }

    @Test func pointersEscapeSpecialCharacters() {
        let schema = JSONSchema(["type": "object", "properties": ["a/b~c": ["type": "integer"]]])
        #expect(schema.validate(["a/b~c": "x"]).map(\.pointer) == ["/a~1b~0c"])
    }

    @Test func parsesAndPrintsJSON() throws {
        let value = try #require(JSONValue(parsing: Array(#"{"b":[1,2.5,true,null],"a":"x"}"#.utf8)))
        #expect(value.text == #"{"a":"x","b":[1,2.5,true,null]}"#)
        #expect(JSONValue(parsing: Array("{nope".utf8)) == nil)
    }

    @Test func invalidPatternIsReportedNotMatched() {
        let schema = JSONSchema(["type": "string", "pattern": "(unclosed"])
        #expect(schema.validate("x").map(\.keyword) == ["pattern"])
    }
}

@Suite struct StringHelperTests {
    @Test func trimsWhiteSpaceAtBothEnds() {
        #expect(" \t a b \n".trimmed == "a b")
        #expect("   ".trimmed == "")
        #expect("x"[...].trimmed == "x")
    }

    @Test func decodesPercentEncodingAsUTF8() {
        #expect("a%20b%2Cc".percentDecoded == "a b,c")
        #expect("caf%C3%A9".percentDecoded == "café")
        #expect("100%".percentDecoded == nil)
        #expect("%zz".percentDecoded == nil)
        #expect("%FF".percentDecoded == nil)
    }
}
