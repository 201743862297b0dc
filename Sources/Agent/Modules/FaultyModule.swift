import IMNCore

/// `faulty_module`: fault injection. `delay` seconds of waiting, then an `error` (the run ends in
/// `error` with that message) or a `crash` (the run dies and ends in `failed`; the agent keeps
/// serving). A `message` (the earlier prototype's example bodies carry one) comes back in the output.
public struct FaultyModule: MeasurementModule {
    public init() {}

    public let spec = ModuleSpec(
        name: "faulty_module", version: "1.0.0", description: "Injects faults: a delay, a module error, or a crashed run.",
        inputSchema: [
            "type": "object", "additionalProperties": false,
            "properties": [
                "message": ["type": "string", "maxLength": 65536, "description": "Text returned in the output, as the prototype did."],
                "delay": ["type": "number", "minimum": 0, "maximum": 300, "default": 0, "description": "Seconds to wait first."],
                "error": ["type": "string", "maxLength": 4096, "description": "End with this module error."],
                "crash": ["type": "boolean", "default": false, "description": "End as a crashed run."],
            ],
        ],
        outputDescription: "{delayed_seconds[, message]} when neither error nor crash is asked for", maxConcurrency: 16)

    public func run(input: JSONValue, context: ModuleContext) async throws -> JSONValue {
        let delay = input["delay"]?.numberValue ?? 0
        if delay > 0 { try await Task.sleep(for: .milliseconds(Int64(delay * 1000))) }
        if input["crash"]?.boolValue == true { throw ModuleCrash("faulty_module crashed on request") }
        if let message = input["error"]?.stringValue { throw ModuleError(message) }
        var output: [String: JSONValue] = ["delayed_seconds": .number(delay)]
        output["message"] = input["message"]
        return .object(output)
    }
}
