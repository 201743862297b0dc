import Client
import IMNCore
import Testing

/// The words of `imn run` and `--from`, as a user types them.
struct ArgumentTests {
    static let pingSchema: JSONValue = [
        "type": "object", "additionalProperties": false, "required": ["host"],
        "properties": [
            "host": ["type": "string"], "count": ["type": "integer"], "interval": ["type": "number"], "flag": ["type": "boolean"],
            "headers": ["type": "object"], "protocol": ["enum": ["icmp", "udp"]],
        ],
    ]

    @Test func valuesTakeTheTypeTheSchemaGives() throws {
        let input = try InputArguments.parse(
            ["host=1.1.1.1", "count=3", "interval=0.25", "flag=yes", #"headers={"a":"b"}"#, "protocol=udp"], schema: Self.pingSchema)
        #expect(input == ["host": "1.1.1.1", "count": 3, "interval": 0.25, "flag": true, "headers": ["a": "b"], "protocol": "udp"])
        // A string that looks like a number stays a string where the schema says string.
        #expect(try InputArguments.parse(["host=10"], schema: Self.pingSchema) == ["host": "10"])
        // key:=JSON is JSON whatever the schema says.
        #expect(try InputArguments.parse([#"host:="x""#, "count:=[1,2]"], schema: Self.pingSchema) == ["host": "x", "count": [1, 2]])
    }

    @Test func withoutASchemaNumbersAndBooleansAreRead() throws {
        #expect(
            try InputArguments.parse(["n=5", "b=true", "s=hello", "v=1.2.3.4"], schema: nil) == ["n": 5, "b": true, "s": "hello", "v": "1.2.3.4"])
    }

    @Test func badWordsAreUsageErrorsThatSayWhy() {
        func message(_ words: [String]) -> String {
            do {
                _ = try InputArguments.parse(words, schema: Self.pingSchema)
                return "no error"
            } catch { return error.message }
        }
        #expect(message(["count=three"]) == #"imn: count takes an integer, not "three""#)
        #expect(message(["interval=fast"]) == #"imn: interval takes a number, not "fast""#)
        #expect(message(["flag=maybe"]) == #"imn: flag takes true or false, not "maybe""#)
        #expect(message(["colour=red"]).hasPrefix("imn: colour is not an input of this module; it takes count, flag, headers, host"))
        #expect(message(["host"]).contains("is not key=value"))
        #expect(message(["count:={"]).contains("takes JSON"))
        #expect((try? InputArguments.parse(["count=three"], schema: Self.pingSchema)) == nil)
    }

    @Test func fromWordsBecomeLocations() throws {
        #expect(try SelectionArgument.locations(["DE,US"]) == [["country": "DE"], ["country": "US"]])
        #expect(
            try SelectionArgument.locations(["DE+eyeball+limit=3", "AS16509"])
                == [["country": "DE", "tags": ["eyeball"], "limit": 3], ["asn": 16509]])
        #expect(try SelectionArgument.locations(["europe", "EU", "na"]) == [["continent": "EU"], ["continent": "EU"], ["country": "NA"]])
        #expect(
            try SelectionArgument.locations(["city=Ashburn+network=Amazon+tag=datacenter+tag=ipv6+asn=AS16509"])
                == [["city": "Ashburn", "network": "Amazon", "tags": ["datacenter", "ipv6"], "asn": 16509]])
        #expect(throws: ClientError.self) { try SelectionArgument.locations(["planet=mars"]) }
        #expect(throws: ClientError.self) { try SelectionArgument.locations(["limit=0"]) }
        #expect(throws: ClientError.self) { try SelectionArgument.locations([","]) }
        #expect(throws: ClientError.self) { try SelectionArgument.locations(["country=DE+country=FR"]) }
    }
}
