/// What an agent says about one of its modules in every heartbeat.
public struct ModuleSpec: Sendable, Hashable, Codable {
    public var name: String
    public var version: String
    public var description: String
    /// JSON Schema of the module's input.
    public var inputSchema: JSONValue
    /// What the output holds, for people reading results.
    public var outputDescription: String
    /// JSON Schema of a completed run's output, where the module gives one.
    public var outputSchema: JSONValue?
    /// Runs allowed at once before new commands are rejected as overloaded.
    public var maxConcurrency: Int
    /// Built into the agent, or an external module loaded from a manifest.
    public var external: Bool
    public var enabled: Bool

    public init(
        name: String, version: String, description: String, inputSchema: JSONValue, outputDescription: String, outputSchema: JSONValue? = nil,
        maxConcurrency: Int = 8, external: Bool = false, enabled: Bool = true
    ) {
        self.name = name
        self.version = version
        self.description = description
        self.inputSchema = inputSchema
        self.outputDescription = outputDescription
        self.outputSchema = outputSchema
        self.maxConcurrency = maxConcurrency
        self.external = external
        self.enabled = enabled
    }

    enum CodingKeys: String, CodingKey {
        case name, version, description, inputSchema = "input_schema", outputDescription = "output_description", outputSchema = "output_schema"
        case maxConcurrency = "max_concurrency", external, enabled
    }
}

extension ModuleSpec {
    /// The spec as heartbeats carry it.
    var withoutOutputSchema: ModuleSpec {
        var spec = self
        spec.outputSchema = nil
        return spec
    }
}
