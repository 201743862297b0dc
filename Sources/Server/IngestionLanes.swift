import IMNCore
import NATSClient
import Synchronization

/// One lane per request the ingestion is applying: messages fetched meanwhile for the same request
/// wait in its queue, so one request's messages are never applied out of order or side by side,
/// while other requests go on.
final class IngestionLanes: Sendable {
    private struct Lane {
        var queued: [JetStreamMessage] = []
        let arrived = WakeSignal()
    }

    private let lanes = Mutex<[String: Lane]>([:])
    private let room = WakeSignal()

    /// The messages to start a lane with, or nil when the request's lane runs (they are queued there).
    func enter(_ key: String, _ messages: [JetStreamMessage]) -> [JetStreamMessage]? {
        let running = lanes.withLock { lanes -> WakeSignal? in
            guard let lane = lanes[key] else {
                lanes[key] = Lane()
                return nil
            }
            lanes[key]?.queued += messages
            return lane.arrived
        }
        guard let running else { return messages }
        running.signal()
        return nil
    }

    /// What is queued for the lane, waiting up to `within` for something when nothing is.
    func more(_ key: String, within: Duration) async -> [JetStreamMessage] {
        if let arrived = lanes.withLock({ $0[key].flatMap { $0.queued.isEmpty ? $0.arrived : nil } }) {
            await arrived.wait(timeout: within)
        }
        return lanes.withLock { take(key, from: &$0) }
    }

    /// What is queued for the lane; nil (and the lane closed) when nothing is.
    func next(_ key: String) -> [JetStreamMessage]? {
        let next = lanes.withLock { lanes -> [JetStreamMessage]? in
            let queued = take(key, from: &lanes)
            if queued.isEmpty { lanes[key] = nil }
            return queued.isEmpty ? nil : queued
        }
        if next == nil { room.signal() }
        return next
    }

    /// Returns once fewer than `limit` lanes run.
    func waitForRoom(_ limit: Int) async {
        while lanes.withLock({ $0.count }) >= limit { await room.wait(timeout: .milliseconds(100)) }
    }

    private func take(_ key: String, from lanes: inout [String: Lane]) -> [JetStreamMessage] {
        defer { lanes[key]?.queued = [] }
        return lanes[key]?.queued ?? []
    }
}
