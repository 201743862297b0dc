import IMNCore

/// What `imn`'s client commands exit with; `imn --help` and each command's help list them.
public enum ClientExitStatus: Int32, Sendable, CaseIterable {
    /// Every run completed (or the command did what it was asked).
    case ok = 0
    /// Some runs ended `error`, `failed` or `offline`.
    case runsFailed = 1
    /// The command line was wrong.
    case usage = 2
    /// The server could not be reached.
    case unreachable = 3
    /// The server refused the request (4xx/5xx with its problem+json).
    case refused = 4
    /// `--wait` passed with runs still in flight.
    case timedOut = 5

    public static let help = """
        Exit status: 0 all runs completed; 1 some runs ended error, failed or offline; 2 usage; \
        3 server unreachable; 4 the server refused the request; 5 --wait passed with runs in flight.
        """
}

/// A problem+json answer (RFC 9457) as the server sent it.
public struct ServerProblem: Sendable {
    public var status: Int
    public var title: String
    public var detail: String?
    /// `pointer: detail` for each entry of `errors`.
    public var errors: [String]

    init(status: Int, body: JSONValue?) {
        self.status = status
        title = body?["title"]?.stringValue ?? "HTTP \(status)"
        detail = body?["detail"]?.stringValue
        errors = (body?["errors"]?.arrayValue ?? []).map { error in
            let pointer = error["pointer"]?.stringValue ?? ""
            let detail = error["detail"]?.stringValue ?? error.text
            return pointer.isEmpty ? detail : "\(pointer): \(detail)"
        }
    }

    public var lines: [String] {
        ["\(status) \(title)" + (detail.map { ": \($0)" } ?? "")] + errors.map { "  \($0)" }
    }
}

/// Why a client command stopped; each maps to one exit status.
public enum ClientError: Error, Sendable {
    case usage(String)
    case unreachable(String, String)
    case refused(ServerProblem)
    /// The server answered something the command cannot read.
    case badAnswer(String)

    public var exitStatus: ClientExitStatus {
        switch self {
        case .usage: .usage
        case .unreachable: .unreachable
        case .refused: .refused
        case .badAnswer: .refused
        }
    }

    /// What to print on standard error.
    public var message: String {
        switch self {
        case .usage(let text): "imn: \(text)"
        case .unreachable(let server, let reason): "imn: cannot reach \(server): \(reason) (is the server running? --server or IMN_SERVER)"
        case .refused(let problem): (["imn: the server refused: " + (problem.lines.first ?? "")] + problem.lines.dropFirst()).joined(separator: "\n")
        case .badAnswer(let text): "imn: unexpected answer from the server: \(text)"
        }
    }
}
