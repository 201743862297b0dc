/// Who may do what on NATS (DESIGN.md §4): one user for the servers, one per agent. An agent may
/// publish only its own heartbeats and results, answer the requests it receives, create the
/// results stream, and subscribe only to its own commands, control requests and inbox, so a
/// compromised agent cannot speak for another or read its commands.
public struct NATSAccess: Sendable, Hashable {
    public struct User: Sendable, Hashable {
        public var name: String
        /// A password, or a `$VARIABLE` nats-server reads from its environment.
        public var password: String

        public init(name: String, password: String) {
            self.name = name
            self.password = password
        }
    }

    public var server: User
    /// One user per agent, named after the agent's id.
    public var agents: [User]

    public init(server: User, agents: [User]) {
        self.server = server
        self.agents = agents
    }

    /// The inbox prefix an agent's connection uses (its replies and JetStream acknowledgements
    /// arrive below it), so that it may subscribe to its own inbox only.
    public static func inboxPrefix(agent: String) -> String { "_INBOX.\(agent)" }

    /// What agent `id` may publish.
    public static func agentPublishes(_ id: String) -> [String] {
        [
            Subjects.heartbeat(agent: id), "imn.res.\(id).>",
            "$JS.API.STREAM.INFO.\(Subjects.resultsStream)", "$JS.API.STREAM.CREATE.\(Subjects.resultsStream)",
        ]
    }

    /// What agent `id` may subscribe to.
    public static func agentSubscribes(_ id: String) -> [String] {
        ["imn.cmd.\(id).*", Subjects.control(agent: id), inboxPrefix(agent: id) + ".>"]
    }

    /// The `authorization` block of a nats-server configuration file.
    public var configuration: String {
        var lines = ["authorization {", "  users = ["]
        lines.append("    {user: \(Self.quoted(server.name)), password: \(Self.value(server.password))}")
        for agent in agents {
            lines.append("    {")
            lines.append("      user: \(Self.quoted(agent.name)), password: \(Self.value(agent.password))")
            lines.append("      permissions: {")
            lines.append("        publish: {allow: [\(Self.agentPublishes(agent.name).map(Self.quoted).joined(separator: ", "))]}")
            lines.append("        subscribe: {allow: [\(Self.agentSubscribes(agent.name).map(Self.quoted).joined(separator: ", "))]}")
            lines.append("        allow_responses: true")
            lines.append("      }")
            lines.append("    }")
        }
        lines += ["  ]", "}"]
        return lines.joined(separator: "\n") + "\n"
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }

    /// Passwords given as `$NAME` stay unquoted: nats-server then reads the environment variable.
    static func value(_ password: String) -> String {
        password.hasPrefix("$") ? password : quoted(password)
    }
}
