import RedisClient

/// One page of a list call; pass `nextCursor` back to get the next page (nil: no more).
public struct Page<Element: Sendable>: Sendable {
    public var items: [Element]
    public var nextCursor: String?
}

/// The cursor of a list over a sorted-set index: "<score>:<member>" of the last item returned,
/// the score 1–18 digits (a time in ms) and the member not empty.
public struct PageCursor: Sendable, Hashable {
    public var score: Int64
    public var member: String

    public init(score: Int64, member: String) {
        self.score = score
        self.member = member
    }

    /// nil when `text` is not a cursor. Split on the byte: a member that starts with a combining
    /// mark would merge with the colon into one Character.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), (1...18).contains(colon), colon < bytes.count - 1,
            bytes[..<colon].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let score = Int64(String(decoding: bytes[..<colon], as: UTF8.self))
        else { return nil }
        self.init(score: score, member: String(decoding: bytes[(colon + 1)...], as: UTF8.self))
    }

    public var text: String { "\(score):\(member)" }
}

/// Inclusive bounds in ms since 1970; nil is open.
public struct TimeRange: Sendable, Hashable {
    public var since: Int64?
    public var until: Int64?
    public init(since: Int64? = nil, until: Int64? = nil) {
        self.since = since
        self.until = until
    }
}

extension DBOSStore {
    /// Pages through a sorted-set index (score = time in ms, members ordered within a score).
    /// The cursor is the ``PageCursor`` of the last item returned; entries whose record is gone
    /// or filtered out (`load` returns nil) are skipped. Scans at most a bounded number of index
    /// entries per call and then returns a cursor, so a sparse filter never makes one call slow.
    func page<T: Sendable>(
        index: RedisArgument, range: TimeRange, cursor: String?, limit: Int,
        load: ([String]) async throws(DBOSError) -> [T?]
    ) async throws(DBOSError) -> Page<T> {
        var last: PageCursor?
        if let cursor {
            guard let parsed = PageCursor(cursor) else { throw DBOSError(.invalidArgument, "malformed cursor") }
            last = parsed
        }
        var items: [T] = []
        var scanned = 0
        var offset = 0
        let budget = max(limit * 10, 1000)
        let high = range.until.map(String.init) ?? "+inf"
        while items.count < limit && scanned < budget {
            let low = last.map { String($0.score) } ?? range.since.map(String.init) ?? "-inf"
            let batch = limit - items.count + 64
            let reply = try await send(
                RedisCommand(
                    "ZRANGEBYSCORE", index, RedisArgument(low), RedisArgument(high), "WITHSCORES", "LIMIT", RedisArgument(offset),
                    RedisArgument(batch)))
            let flat = reply.array ?? []
            var entries: [PageCursor] = []
            var position = 0
            while position + 1 < flat.count {
                if let member = flat[position].text, let score = flat[position + 1].integer {
                    entries.append(PageCursor(score: score, member: member))
                }
                position += 2
            }
            let exhausted = entries.count < batch
            // Members with the same score are ordered by their bytes, as Redis orders them.
            let fresh = entries.filter { entry in
                guard let last else { return true }
                return entry.score > last.score || (entry.score == last.score && last.member.utf8.lexicographicallyPrecedes(entry.member.utf8))
            }
            if fresh.isEmpty {
                if exhausted { return Page(items: items, nextCursor: nil) }
                offset += entries.count  // a run of entries at the cursor's own score: look past it
                continue
            }
            offset = 0
            let take = Array(fresh.prefix(limit - items.count))
            let loaded = try await load(take.map(\.member))
            for (entry, item) in zip(take, loaded) {
                last = entry
                scanned += 1
                if let item { items.append(item) }
            }
            if exhausted && take.count == fresh.count { return Page(items: items, nextCursor: nil) }
        }
        return Page(items: items, nextCursor: last?.text)
    }
}
