import Agent
import IMNCore
import Logging
import Testing

/// Runs a module as the agent does (input checked against its schema, defaults applied) and
/// checks the output against the module's output schema. A schema violation is a module error.
enum ModuleRun {
    static func run(_ module: any MeasurementModule, _ input: JSONValue, policy: TargetPolicy = .anything) async throws -> JSONValue {
        let schema = JSONSchema(module.spec.inputSchema)
        let violations = schema.validate(input)
        guard violations.isEmpty else { throw ModuleError("input: \(violations)") }
        let context = ModuleContext(agentID: "t", requestID: "r", logger: Logger(label: "test"), metrics: .discarding, targetPolicy: policy)
        let output = try await module.run(input: schema.applyingDefaults(to: input), context: context)
        let outputSchema = try #require(module.spec.outputSchema)
        #expect(JSONSchema(outputSchema).validate(output).isEmpty, "\(JSONSchema(outputSchema).validate(output))")
        return output
    }
}
