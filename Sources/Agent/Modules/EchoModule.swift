import FoundationEssentials
import IMNCore

/// `echo_module`: the message back, with the agent id and timestamps — the simplest end-to-end check.
public struct EchoModule: MeasurementModule {
    public init() {}

    public let spec = ModuleSpec(
        name: "echo_module", version: "1.0.0", description: "Returns the message with the agent id and timestamps.",
        inputSchema: [
            "type": "object", "required": ["message"], "additionalProperties": false,
            "properties": ["message": ["type": "string", "maxLength": 65536, "description": "Text to send back."]],
        ],
        outputDescription: "{message, agent_id, received_at_ms, replied_at_ms}", maxConcurrency: 64)

    public func run(input: JSONValue, context: ModuleContext) async throws -> JSONValue {
        let received = Date().timeIntervalSince1970
        return [
            "message": input["message"] ?? "", "agent_id": .string(context.agentID),
            "received_at_ms": .number((received * 1000).rounded()), "replied_at_ms": .number((Date().timeIntervalSince1970 * 1000).rounded()),
        ]
    }
}
