import IMNCore
import Testing

/// The prototype's renamed inputs are refused with a message that says what changed.
struct PrototypeInputsTests {
    let pingSchema = JSONSchema([
        "type": "object", "additionalProperties": false,
        "properties": ["host": ["type": "string"], "count": ["type": "integer"]],
    ])

    @Test func renamedPropertiesAreExplained() {
        let violations = pingSchema.validate(["target": "google.com", "count": 4, "port": 80, "request_id": "r"])
        let explained = PrototypeInputs.explained(violations, module: "ping_module")
        #expect(explained.count == 3)
        let messages = Dictionary(uniqueKeysWithValues: explained.map { ($0.pointer, $0.message) })
        #expect(messages["/target"] == "is not an allowed property: the prototype's `target` is `host` now")
        #expect(messages["/port"]?.contains("tcping") == true)
        #expect(messages["/request_id"]?.contains("Idempotency-Key") == true)
    }

    @Test func otherViolationsAndModulesAreLeftAlone() {
        let violations = pingSchema.validate(["host": 5, "colour": "red", "target": "x"])
        #expect(PrototypeInputs.explained(violations, module: "echo_module").filter { $0.message.contains("prototype") }.isEmpty)
        let ping = PrototypeInputs.explained(violations, module: "ping_module")
        #expect(ping.filter { $0.message.contains("prototype") }.map(\.pointer) == ["/target"])
        #expect(ping.count == violations.count)
    }
}
