import FoundationEssentials
import Glibc
import IMNCore
import Logging
import NATSClient
import Synchronization

/// Results and state transitions waiting for JetStream's acknowledgement, kept on disk in the
/// state directory so that neither a NATS outage nor an agent restart loses them. Entries are
/// published in order with their `Nats-Msg-Id`, so a re-send after an ambiguous failure is
/// stored once by the stream (and once more by DBOS's idempotent store).
public final class ResultOutbox: Sendable {
    struct Entry: Codable {
        var subject: String
        var messageID: String
        var payload: Data
        /// Trace context to publish with (absent in entries written before tracing).
        var headers: [String: String]?
    }

    let directory: URL
    private let logger: Logger
    private let sequence: Mutex<Int>
    private let wakeUp = WakeSignal()

    public init(directory: URL, logger: Logger) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
        self.logger = logger
        let last =
            try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .compactMap { Int($0.prefix(while: { $0 != "-" })) }.max() ?? 0
        sequence = Mutex(last)
    }

    /// Entries not yet acknowledged.
    public var depth: Int { pending().count }

    /// Writes the entry before returning (written, then renamed into place, so a reader never
    /// sees half an entry). Every entry survives a crash of the agent process (the kernel holds
    /// the written file); terminal transitions, which carry the result, are also fsynced so that
    /// they survive a crash of the machine. A lost `started` or `running` costs nothing: the
    /// server applies skipped states in order when the terminal one arrives.
    public func enqueue(_ message: ResultMessage, headers: NATSHeaders = NATSHeaders()) throws {
        let durable = ModuleStateName(rawValue: message.state)?.isTerminal == true
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let entry = Entry(
            subject: Subjects.result(agent: message.agentID, module: message.module), messageID: message.messageID,
            payload: try encoder.encode(message),
            headers: headers.isEmpty ? nil : Dictionary(headers.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }))
        let number = sequence.withLock { value -> Int in
            value += 1
            return value
        }
        let digits = String(number)
        let name = String(repeating: "0", count: max(0, 12 - digits.count)) + digits + "-" + message.state + ".json"
        let temporary = directory.appendingPathComponent("." + name + ".tmp")
        let data = try JSONEncoder().encode(entry)
        try Self.write(data, to: temporary.path, sync: durable)
        try FileManager.default.moveItem(at: temporary, to: directory.appendingPathComponent(name))
        wakeUp.signal()
    }

    /// Writes a new file, fsynced before it is closed when `sync` is set.
    private static func write(_ data: Data, to path: String, sync: Bool) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OutboxError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) throws in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, base + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw OutboxError("cannot write \(path): \(String(cString: strerror(errno)))") }
                offset += written
            }
        }
        if sync && fsync(fd) != 0 { throw OutboxError("cannot fsync \(path): \(String(cString: strerror(errno)))") }
    }

    private func pending() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted()
    }

    /// Publishes entries in order until cancelled: up to 64 at a time, sent back to back and
    /// acknowledged together (one round trip, the stream keeps their order). An entry leaves the
    /// outbox once acknowledged; after a failure the first unacknowledged entry and those after
    /// it are sent again (deduplicated by their message ids) after a wait of 100 ms doubling to 2 s.
    public func run(jetStream: JetStream, onDepth: @Sendable (Int) -> Void = { _ in }) async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            let files = pending()
            onDepth(files.count)
            if files.isEmpty {
                await wakeUp.wait(timeout: .seconds(1))  // an enqueue, or a look again after a second
                continue
            }
            var batch: [(url: URL, entry: Entry)] = []
            for file in files.prefix(64) {
                let url = directory.appendingPathComponent(file)
                guard let data = FileManager.default.contents(atPath: url.path), let entry = try? JSONDecoder().decode(Entry.self, from: data) else {
                    logger.error("unreadable outbox entry moved aside", metadata: ["file": "\(file)"])
                    try? FileManager.default.moveItem(at: url, to: directory.appendingPathComponent(file + ".bad"))
                    continue
                }
                batch.append((url, entry))
            }
            let messages = batch.map { item in
                var headers = NATSHeaders()
                for (name, value) in item.entry.headers ?? [:] { headers[name] = value }
                headers["Nats-Msg-Id"] = item.entry.messageID
                return NATSOutgoing(subject: item.entry.subject, payload: Array(item.entry.payload), headers: headers)
            }
            let outcomes = await jetStream.publish(messages)
            for (item, outcome) in zip(batch, outcomes) {
                if case .failure(let error) = outcome {
                    logger.debug("result publish failed; will retry", metadata: ["nats.msg_id": "\(item.entry.messageID)", "error": "\(error)"])
                    try? await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(2))
                    break
                }
                try? FileManager.default.removeItem(at: item.url)
                delay = .milliseconds(100)
            }
        }
    }
}

struct OutboxError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
