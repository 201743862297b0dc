import FoundationEssentials
import Glibc
import IMNCore
import Logging
import NATSClient
import Synchronization

/// Results and state transitions waiting for JetStream's acknowledgement. Each entry is appended
/// to a segment file in the state directory before ``enqueue(_:headers:)`` returns and is
/// published from memory; the files are read only when the agent starts, so that neither a NATS
/// outage nor an agent restart loses an entry. Entries are published in order with their
/// `Nats-Msg-Id`, so a re-send after an ambiguous failure (or after a restart, of an entry whose
/// acknowledgement was not yet recorded) is stored once by the stream and once by DBOS.
///
/// A run's earlier transitions (`started`, `running`) wait ``holdEarlierStates`` (50 ms: under load a
/// short run's end can come tens of milliseconds after its start) before they are
/// published; when the run's terminal transition comes within that time they are dropped, and
/// the server, which applies skipped states in order, gets one message for the run instead of three.
public final class ResultOutbox: Sendable {
    struct Entry {
        var subject: String
        var messageID: String
        var payload: [UInt8]
        var headers: [String: String]
        var requestID: String { String(messageID[..<(messageID.lastIndex(of: ":") ?? messageID.endIndex)]) }
    }

    private struct Queued {
        var entry: Entry
        var segment: Int
        var terminal: Bool
        var due: ContinuousClock.Instant
        var inFlight = false
    }

    private struct State {
        var queue: [Queued] = []
        /// Entries not yet acknowledged, per segment file.
        var unacknowledged: [Int: Int] = [:]
        /// The segment appended to (its descriptor, -1 until the first entry), and its entry count.
        var segment: Int
        var descriptor: Int32 = -1
        var written = 0
        var recovered = false
    }

    /// How long an earlier transition waits for its run's terminal one.
    public static let holdEarlierStates = Duration.milliseconds(50)
    /// Entries a segment file takes before the next one is started.
    static let segmentEntries = 512

    let directory: URL
    private let logger: Logger
    private let state: Mutex<State>
    private let wakeUp = WakeSignal()

    public init(directory: URL, logger: Logger) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
        self.logger = logger
        state = Mutex(State(segment: (Self.segments(in: directory).last ?? 0) + 1))
    }

    /// Entries not yet acknowledged (those left on disk by an earlier process count once ``run(jetStream:onDepth:)`` has read them).
    public var depth: Int { state.withLock { $0.queue.count } }

    /// Appends the entry to the current segment file before returning. Every entry survives a
    /// crash of the agent process (the kernel holds the written bytes); terminal transitions,
    /// which carry the result, are also fsynced so that they survive a crash of the machine. A
    /// terminal transition supersedes its run's earlier ones still waiting in memory.
    public func enqueue(_ message: ResultMessage, headers: NATSHeaders = NATSHeaders()) throws {
        let terminal = ModuleStateName(rawValue: message.state)?.isTerminal == true
        let entry = Entry(
            subject: Subjects.result(agent: message.agentID, module: message.module), messageID: message.messageID,
            payload: message.jsonBytes, headers: Dictionary(headers.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }))
        try enqueue(entry, terminal: terminal)
    }

    fileprivate func enqueue(_ entry: Entry, terminal: Bool) throws {
        let record = Self.record(entry)
        try state.withLock { state throws in
            try append(record, sync: terminal, to: &state)
            state.unacknowledged[state.segment, default: 0] += 1
            state.written += 1
            if terminal {
                let requestID = entry.requestID
                var superseded: [Int] = []
                state.queue.removeAll { queued in
                    guard !queued.terminal, !queued.inFlight, queued.entry.requestID == requestID else { return false }
                    superseded.append(queued.segment)
                    return true
                }
                for segment in superseded { acknowledged(segment: segment, in: &state) }
            }
            let due = ContinuousClock.now + (terminal ? .zero : Self.holdEarlierStates)
            state.queue.append(Queued(entry: entry, segment: state.segment, terminal: terminal, due: due))
            if state.written >= Self.segmentEntries { rotate(&state) }
        }
        wakeUp.signal()
    }

    /// Publishes entries in order until cancelled: first those an earlier process left on disk,
    /// then each as it is due, up to 64 at a time sent back to back and acknowledged together
    /// (one round trip, the stream keeps their order). An entry leaves the outbox once
    /// acknowledged; after a failure the first unacknowledged entry and those after it are sent
    /// again (deduplicated by their message ids) after a wait of 100 ms doubling to 2 s.
    public func run(jetStream: JetStream, onDepth: @Sendable (Int) -> Void = { _ in }) async {
        recover()
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let (batch, depth, nextDue) = state.withLock { state -> ([Entry], Int, ContinuousClock.Instant?) in
                var batch: [Entry] = []
                var nextDue: ContinuousClock.Instant?
                for index in state.queue.indices where !state.queue[index].inFlight {
                    if state.queue[index].due > now {
                        nextDue = min(nextDue ?? state.queue[index].due, state.queue[index].due)
                        continue
                    }
                    guard batch.count < 64 else { break }
                    state.queue[index].inFlight = true
                    batch.append(state.queue[index].entry)
                }
                return (batch, state.queue.count, nextDue)
            }
            onDepth(depth)
            if batch.isEmpty {
                // An enqueue, the next entry's due time, or a look again after a second.
                await wakeUp.wait(timeout: nextDue.map { max($0 - now, .microseconds(100)) } ?? .seconds(1))
                continue
            }
            let messages = batch.map { entry in
                var headers = NATSHeaders()
                for (name, value) in entry.headers.sorted(by: { $0.key < $1.key }) { headers[name] = value }
                headers["Nats-Msg-Id"] = entry.messageID
                return NATSOutgoing(subject: entry.subject, payload: entry.payload, headers: headers)
            }
            let outcomes = await jetStream.publish(messages)
            let failed = zip(batch, outcomes).first { if case .failure = $1 { true } else { false } }
            let published = Set(zip(batch, outcomes).prefix { if case .success = $1 { true } else { false } }.map(\.0.messageID))
            state.withLock { state in
                var done: [Int] = []
                state.queue.removeAll { queued in
                    guard queued.inFlight, published.contains(queued.entry.messageID) else { return false }
                    done.append(queued.segment)
                    return true
                }
                for index in state.queue.indices { state.queue[index].inFlight = false }
                for segment in done { acknowledged(segment: segment, in: &state) }
            }
            if let (entry, outcome) = failed, case .failure(let error) = outcome {
                logger.debug("result publish failed; will retry", metadata: ["nats.msg_id": "\(entry.messageID)", "error": "\(error)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            } else {
                delay = .milliseconds(100)
            }
        }
    }

    // MARK: - Segment files

    /// One line per entry: subject, message id, headers (a JSON object) and the payload (JSON,
    /// which has no raw newline or tab), separated by tabs.
    static func record(_ entry: Entry) -> [UInt8] {
        let headers = JSONValue.object(entry.headers.mapValues(JSONValue.string)).bytes
        return Array(entry.subject.utf8) + [9] + Array(entry.messageID.utf8) + [9] + headers + [9] + entry.payload + [10]
    }

    /// The entry of one line; nil for a torn or foreign line.
    static func entry(of line: ArraySlice<UInt8>) -> Entry? {
        let fields = line.split(separator: 9, maxSplits: 3, omittingEmptySubsequences: false)
        guard fields.count == 4, let headers = JSONValue(parsing: Array(fields[2]))?.objectValue,
            JSONValue(parsing: Array(fields[3])) != nil
        else { return nil }
        return Entry(
            subject: String(decoding: fields[0], as: UTF8.self), messageID: String(decoding: fields[1], as: UTF8.self), payload: Array(fields[3]),
            headers: headers.compactMapValues(\.stringValue))
    }

    static func segments(in directory: URL) -> [Int] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).compactMap { name in
            name.hasSuffix(".log") ? Int(name.dropLast(4)) : nil
        }.sorted()
    }

    private func path(of segment: Int) -> String {
        let digits = String(segment)
        return directory.appendingPathComponent(String(repeating: "0", count: max(0, 12 - digits.count)) + digits + ".log").path
    }

    private func append(_ record: [UInt8], sync: Bool, to state: inout State) throws {
        if state.descriptor < 0 {
            let path = path(of: state.segment)
            state.descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard state.descriptor >= 0 else { throw OutboxError("cannot open \(path): \(String(cString: strerror(errno)))") }
        }
        let fd = state.descriptor
        try record.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, base + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw OutboxError("cannot write the outbox: \(String(cString: strerror(errno)))") }
                offset += written
            }
        }
        if sync && fdatasync(fd) != 0 { throw OutboxError("cannot fsync the outbox: \(String(cString: strerror(errno)))") }
    }

    /// Starts the next segment file; the one before is deleted once its entries are acknowledged.
    private func rotate(_ state: inout State) {
        if state.descriptor >= 0 { close(state.descriptor) }
        state.descriptor = -1
        let old = state.segment
        state.segment += 1
        state.written = 0
        if state.unacknowledged[old, default: 0] == 0 {
            state.unacknowledged[old] = nil
            unlink(path(of: old))
        }
    }

    /// One entry of `segment` acknowledged (or superseded): a segment with none left is deleted,
    /// the current one emptied in place.
    private func acknowledged(segment: Int, in state: inout State) {
        let left = state.unacknowledged[segment, default: 1] - 1
        state.unacknowledged[segment] = left
        guard left == 0 else { return }
        if segment == state.segment {
            if state.descriptor >= 0 { _ = ftruncate(state.descriptor, 0) }
            state.written = 0
        } else {
            state.unacknowledged[segment] = nil
            unlink(path(of: segment))
        }
    }

    /// Queues what earlier processes left in segment files (before anything this one enqueued).
    private func recover() {
        let current = state.withLock { state -> Int? in
            defer { state.recovered = true }
            return state.recovered ? nil : state.segment
        }
        guard let current else { return }
        var recovered: [Queued] = []
        var counts: [Int: Int] = [:]
        for segment in Self.segments(in: directory) where segment < current {
            let path = path(of: segment)
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let lines = Array(data).split(separator: 10)
            for line in lines {
                guard let entry = Self.entry(of: line) else {
                    logger.warning("unreadable outbox line skipped", metadata: ["file": "\(path)"])
                    continue
                }
                recovered.append(Queued(entry: entry, segment: segment, terminal: true, due: .now))
                counts[segment, default: 0] += 1
            }
            if counts[segment] == nil { unlink(path) }
        }
        recoverLegacyFiles()
        guard !recovered.isEmpty else { return }
        logger.info("outbox entries left by an earlier run", metadata: ["count": "\(recovered.count)"])
        state.withLock { state in
            state.queue.insert(contentsOf: recovered, at: 0)
            state.unacknowledged.merge(counts) { $0 + $1 }
        }
    }
}

extension ResultOutbox {
    /// An entry of the outbox before segment files: one JSON file each, `<sequence>-<state>.json`.
    private struct LegacyEntry: Decodable {
        var subject: String
        var messageID: String
        var payload: Data
        var headers: [String: String]?
    }

    /// Moves entries an agent of an earlier version left as one file each into the current
    /// segment (appended first, then the file removed), in their order.
    fileprivate func recoverLegacyFiles() {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter {
            $0.hasSuffix(".json") && !$0.hasPrefix(".")
        }.sorted()
        for name in names {
            let url = directory.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path), let old = try? JSONDecoder().decode(LegacyEntry.self, from: data) else {
                logger.error("unreadable outbox entry moved aside", metadata: ["file": "\(name)"])
                try? FileManager.default.moveItem(at: url, to: directory.appendingPathComponent(name + ".bad"))
                continue
            }
            let entry = Entry(subject: old.subject, messageID: old.messageID, payload: Array(old.payload), headers: old.headers ?? [:])
            do {
                try enqueue(entry, terminal: true)
                try FileManager.default.removeItem(at: url)
            } catch {
                logger.error("outbox entry of an earlier version not moved", metadata: ["file": "\(name)", "error": "\(error)"])
            }
        }
    }
}

struct OutboxError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
