import FoundationEssentials
import IMNCore

/// The agent's id: given, or made once and kept in `<state>/agent-id` so that it survives
/// restarts (results and schedules refer to it).
enum AgentIdentity {
    static func resolve(given: String?, stateDirectory: URL) throws -> String {
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        let file = stateDirectory.appendingPathComponent("agent-id")
        if let given {
            guard Subjects.isValidToken(given) else { throw AgentError("agent id \"\(given)\" may not contain spaces, dots, * or >") }
            return given
        }
        if let data = FileManager.default.contents(atPath: file.path) {
            let stored = String(decoding: data, as: UTF8.self).trimmed
            if Subjects.isValidToken(stored) { return stored }
        }
        let made = "agent-" + UUID().uuidString.lowercased().prefix(8)
        try Data((made + "\n").utf8).write(to: file, options: .atomic)
        return made
    }
}

public struct AgentError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
