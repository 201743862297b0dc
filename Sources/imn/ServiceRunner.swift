import Logging
import ServiceLifecycle

/// What every long-running subcommand does: bootstrap logging at the chosen level, then run its
/// services in one ServiceGroup that stops gracefully on SIGTERM and SIGINT.
enum ServiceRunner {
    static func bootstrapLogging(_ level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    static func run(_ services: [any Service], logger: Logger) async throws {
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
