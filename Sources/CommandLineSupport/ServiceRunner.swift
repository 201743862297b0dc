import ArgumentParser
import IMNCore
import Logging
import OTLP
import ServiceLifecycle
import Tracing

/// What every long-running subcommand does: set up telemetry and logging, then run its services
/// in one ServiceGroup that stops gracefully on SIGTERM and SIGINT.
public enum ServiceRunner {
    /// OTLP from the `OTEL_*` environment (exports to http://localhost:4318 by default; with no
    /// collector there, exports are counted as dropped and nothing waits), a tracer for
    /// swift-distributed-tracing, and logs to standard error and OTLP at `level`.
    /// An `OTEL_*` setting IMN cannot honour stops the command with a message naming it.
    public static func telemetry(service: String, instanceID: String? = nil, level: Logger.Level) throws -> OTLPSetup {
        let setup = try OTLPSetup.fromEnvironment(
            serviceName: service, version: IMNVersion.current,
            instanceID: instanceID ?? service + "-" + String(UInt32.random(in: 0...UInt32.max), radix: 16))
        bootstrapLogging(level, also: setup)
        if setup.enabled { InstrumentationSystem.bootstrap(setup.tracer) }
        let logger = Logger(label: "imn.otlp")
        for warning in setup.warnings { logger.warning("\(warning)") }
        return setup
    }

    /// Logs to standard error at `level`, and to OTLP as well when `otlp` is given and enabled.
    public static func bootstrapLogging(_ level: Logger.Level, also otlp: OTLPSetup? = nil) {
        LoggingSystem.bootstrap { label in
            var stream = StreamLogHandler.standardError(label: label)
            stream.logLevel = level
            guard let exported = otlp?.logHandler(label: label, level: level) else { return stream }
            return MultiplexLogHandler([stream, exported])
        }
    }

    /// Runs `services`; telemetry starts first and stops last, so the final spans and logs of the
    /// others are flushed.
    public static func run(_ services: [any Service], telemetry: OTLPSetup? = nil, logger: Logger) async throws {
        let all: [any Service] = (telemetry.map { [TelemetryService(setup: $0)] } ?? []) + services
        let group = ServiceGroup(configuration: .init(services: all, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Exports spans, logs and metrics until graceful shutdown, then flushes them.
struct TelemetryService: Service {
    let setup: OTLPSetup

    func run() async throws {
        guard setup.enabled else {
            // OTEL_SDK_DISABLED: nothing to export, but a service that returns early would stop the
            // whole group, so wait for the shutdown like the others.
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown { await setup.run() }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
