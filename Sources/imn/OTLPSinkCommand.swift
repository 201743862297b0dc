import ArgumentParser
import CommandLineSupport
import Foundation
import Logging
import OTLPSink
import Synchronization

/// `imn otlp-sink`: receive OTLP/HTTP and print it, for debugging without a collector.
struct OTLPSinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otlp-sink",
        abstract: "Receive OTLP/HTTP (protobuf, gzip or not) on /v1/traces, /v1/metrics and /v1/logs and print what arrives.",
        discussion: """
            For looking at IMN's telemetry without a collector: point OTEL_EXPORTER_OTLP_ENDPOINT at it \
            (default http://localhost:4318) and read one line per span, metric or log record, as text or \
            as JSON lines (--format json). Bodies are decoded with IMN's own protobuf-c code.
            """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (OTLP/HTTP's default is 4318).") var port = 4318
    @Option(help: "Output: text (one readable line per item) or json (JSON lines).") var format: Format = .text
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: Logger.Level = .info

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0–65535") }
    }

    func run() async throws {
        ServiceRunner.bootstrapLogging(logLevel)
        let logger = Logger(label: "imn.otlp-sink")
        let format = self.format
        let output = Mutex(FileHandle.standardOutput)
        let sink = OTLPSink(host: host, port: port, keep: 0, logger: logger) { items in
            let lines = items.map { format == .json ? $0.json.text : $0.text }.joined(separator: "\n") + "\n"
            output.withLock { $0.write(Data(lines.utf8)) }
        }
        try await sink.run { port in logger.info("otlp-sink listening", metadata: ["port": "\(port)"]) }
    }
}
