import ArgumentParser
import Client
import Foundation
import IMNCore

/// What every client command takes: which server, which token, and how to print.
struct ClientOptions: ParsableArguments {
    @Option(help: "The IMN server's URL (default: $IMN_SERVER, else http://localhost:8000).") var server: String?
    @Option(help: "API token, sent as Authorization: Bearer (default: $IMN_TOKEN).") var token: String?
    @Flag(help: "Print the server's JSON as it came (JSON lines for watch) instead of tables.") var json = false
    @Option(help: "Colour: auto (on a terminal, unless NO_COLOR is set), always or never.") var color: ColourChoice = .auto

    enum ColourChoice: String, ExpressibleByArgument, CaseIterable { case auto, always, never }

    func client() throws(ClientError) -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        return try APIClient(
            server: server ?? environment["IMN_SERVER"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://localhost:8000",
            token: token ?? environment["IMN_TOKEN"])
    }

    /// GETs `path` and prints it: the server's JSON with --json, else `render`'s text.
    func show(_ path: String, query: [(String, String)], render: (JSONValue, OutputStyle) -> String) throws {
        try runClient { () throws(ClientError) in
            let answer = try client().get(path, query: query)
            guard let body = answer.json else { throw .badAnswer("GET \(path) is not JSON") }
            return (json ? answer.text : render(body, style), .ok)
        }
    }

    var style: OutputStyle {
        let terminal = isatty(STDOUT_FILENO) == 1
        let noColour = ProcessInfo.processInfo.environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        let colour =
            switch color {
            case .always: true
            case .never: false
            case .auto: terminal && !noColour
            }
        return OutputStyle(colour: colour, progress: isatty(STDERR_FILENO) == 1 && !json)
    }
}

/// Runs a client command's body: prints what it returns, maps a `ClientError` to its message on
/// standard error and its exit status.
func runClient(_ body: () throws(ClientError) -> (output: String, status: ClientExitStatus)) throws {
    do {
        let (output, status) = try body()
        if !output.isEmpty { print(output) }
        if status != .ok { throw ExitCode(status.rawValue) }
    } catch let error as ClientError {
        FileHandle.standardError.write(Data((error.message + "\n").utf8))
        throw ExitCode(error.exitStatus.rawValue)
    }
}

/// A line on standard error that rewrites itself (only on a terminal).
struct ProgressLine {
    let enabled: Bool
    func show(_ text: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(text)".utf8))
    }
    func clear() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }
}
