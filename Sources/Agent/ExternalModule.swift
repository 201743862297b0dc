import FoundationEssentials
import Glibc
import IMNCore

/// A module described by a manifest and run as a child process: the input JSON on stdin, the
/// result JSON on stdout. A non-zero exit, a signal or output that is not JSON is a module
/// `error` (with stderr's last lines); a run past its timeout is killed.
struct ExternalModule: MeasurementModule {
    struct Manifest: Codable, Hashable {
        var name: String
        var version: String
        var description: String?
        var inputSchema: JSONValue
        var outputDescription: String?
        /// The program and its arguments.
        var command: [String]
        var maxConcurrency: Int?

        enum CodingKeys: String, CodingKey {
            case name, version, description, inputSchema = "input_schema", outputDescription = "output_description", command
            case maxConcurrency = "max_concurrency"
        }
    }

    let manifest: Manifest
    let spec: ModuleSpec

    init(_ manifest: Manifest) throws {
        guard Subjects.isValidToken(manifest.name) else { throw AgentError("module name \"\(manifest.name)\" is not a valid subject token") }
        guard let program = manifest.command.first, !program.isEmpty else { throw AgentError("manifest of \(manifest.name) has no command") }
        let unsupported = JSONSchema(manifest.inputSchema).unsupportedKeywords
        guard unsupported.isEmpty else {
            throw AgentError("input schema of \(manifest.name) uses keywords the agent cannot check: \(unsupported.joined(separator: ", "))")
        }
        self.manifest = manifest
        spec = ModuleSpec(
            name: manifest.name, version: manifest.version, description: manifest.description ?? "", inputSchema: manifest.inputSchema,
            outputDescription: manifest.outputDescription ?? "", maxConcurrency: max(1, manifest.maxConcurrency ?? 4), external: true)
    }

    func run(input: JSONValue, context: ModuleContext) async throws -> JSONValue {
        let (pid, finish) = try ChildProcess.spawn(manifest.command, input: input.bytes)
        let outcome = try await withTaskCancellationHandler {
            try await ProbeThreads.pool.runIfActive { finish() }
        } onCancel: {
            // The timeout (or shutdown) ends the module's whole process group; the reads then end.
            kill(-pid, SIGKILL)
        }
        let tail = String(decoding: outcome.errors, as: UTF8.self).split(separator: "\n").suffix(5).joined(separator: " | ")
        let detail = tail.isEmpty ? "" : ": \(tail)"
        if let signal = outcome.signal { throw ModuleError("\(spec.name) was killed by signal \(signal)\(detail)") }
        if outcome.status != 0 { throw ModuleError("\(spec.name) exited with status \(outcome.status)\(detail)") }
        guard let result = JSONValue(parsing: outcome.output) else {
            throw ModuleError("\(spec.name) wrote something that is not JSON: \(String(decoding: outcome.output.prefix(200), as: UTF8.self))")
        }
        return result
    }
}
