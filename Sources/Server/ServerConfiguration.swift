import Archive
import CoreMetrics
import DBOS
import Foundation
import IMNCore
import NATSClient

/// `imn server` settings.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (tests).
    public var port = 8000
    public var nats = NATSConfiguration()
    public var dbosAddress = "127.0.0.1:50051"
    /// TLS to DBOS; nil is plaintext.
    public var dbosTLS: DBOSTLS.Client?
    /// An agent is alive when heard within this long.
    public var heartbeatTimeout: Duration = .seconds(15)
    /// Name of this server in actor fields and its consumer's client name.
    public var serverID = "server-\(ProcessInfo.processInfo.hostName)"
    /// A metrics backend that sees every server metric besides Prometheus (the OTLP one).
    public var additionalMetrics: (any MetricsFactory)?
    /// Text appended to `/metrics` at each scrape (the OTLP exporter's counts).
    public var additionalExposition: @Sendable () -> String = { "" }
    /// A request with no terminal state this long after it was made is failed (its agent or
    /// server stopped mid-request). Longer than any run: agents cap runs at 300 s by default.
    public var stuckAfter: Duration = .seconds(600)
    /// REST bearer tokens; none means the API is open.
    public var tokens: [APIToken] = []

    /// The built-in modules, whose schemas `/openapi.json` describes (`imn server` gives the
    /// agent's own).
    public var builtInModules: [ModuleSpec] = []
    /// The ClickHouse archive of terminal results and `GET /history`; off when nil.
    public var archive: ResultArchiver.Configuration?

    public init() {}
}
