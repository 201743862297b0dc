import IMNCore

/// A JetStream stream's configuration (the subset IMN uses).
public struct JetStreamStreamConfiguration: Sendable, Hashable {
    public enum Retention: Sendable, Hashable { case limits, interest, workQueue }
    public enum Storage: Sendable, Hashable { case file, memory }

    public var name: String
    public var subjects: [String]
    public var retention: Retention = .limits
    public var storage: Storage = .file
    /// Publications with the same `Nats-Msg-Id` within this window are stored once.
    public var duplicateWindow: Duration = .seconds(120)
    /// Oldest message kept; `nil` keeps messages until other limits remove them.
    public var maxAge: Duration?
    public var maxMessages: Int64?
    public var maxBytes: Int64?
    public var replicas: Int = 1

    public init(name: String, subjects: [String]) {
        self.name = name
        self.subjects = subjects
    }
}

/// A durable pull consumer's configuration.
public struct JetStreamConsumerConfiguration: Sendable, Hashable {
    public var durableName: String
    /// The subjects this consumer reads, e.g. `imn.res.>`.
    public var filterSubject: String
    /// Un-acknowledged messages are redelivered after this long.
    public var ackWait: Duration = .seconds(30)
    /// Deliveries before the server gives up on a message (JetStream's default is unlimited,
    /// which retries a poison message forever).
    public var maxDeliver: Int = 10
    /// Redelivery delays per attempt; overrides `ackWait` for redeliveries when set.
    public var backoff: [Duration] = []
    /// Messages delivered but not yet acknowledged, at most.
    public var maxAckPending: Int = 1000

    public init(durableName: String, filterSubject: String) {
        self.durableName = durableName
        self.filterSubject = filterSubject
    }
}

/// The server's acknowledgement of a JetStream publication.
public struct JetStreamPublishAck: Sendable, Hashable, Decodable {
    public var stream: String
    public var sequence: UInt64
    /// True when a message with the same `Nats-Msg-Id` was already stored within the window.
    public var duplicate: Bool

    enum CodingKeys: String, CodingKey {
        case stream, sequence = "seq", duplicate
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        stream = try container.decode(String.self, forKey: .stream)
        sequence = try container.decode(UInt64.self, forKey: .sequence)
        duplicate = try container.decodeIfPresent(Bool.self, forKey: .duplicate) ?? false
    }
}

extension JetStreamStreamConfiguration {
    /// IMN's results stream, `IMN_RESULTS` on `imn.res.>` (DESIGN.md §4). Agents and servers
    /// both create it when missing, so both must ask for the same settings, or each
    /// create-or-update would change it back: a 10-minute duplicate window (longer than any
    /// re-send of the agents' outbox after a short outage), messages kept 7 days.
    public static var imnResults: JetStreamStreamConfiguration {
        var stream = JetStreamStreamConfiguration(name: Subjects.resultsStream, subjects: [Subjects.allResults])
        stream.duplicateWindow = .seconds(600)
        stream.maxAge = .seconds(7 * 24 * 3600)
        return stream
    }
}
