import IMNCore
import Synchronization

/// The batching processor of the OpenTelemetry SDK specification, for spans and log records:
/// ``add(_:)`` never waits (a full queue drops the item and counts it); ``run()`` exports a batch
/// when `maxExportBatchSize` items are queued or `scheduleDelay` has passed, one export at a time;
/// when ``run()`` is cancelled it flushes what is queued, within `exportTimeout`.
public final class OTLPBatchProcessor<Item: Sendable>: Sendable {
    public struct Configuration: Sendable, Hashable {
        public var maxQueueSize = 2048
        public var maxExportBatchSize = 512
        public var scheduleDelay: Duration = .seconds(5)
        public var exportTimeout: Duration = .seconds(30)

        public init() {}

        /// `OTEL_BSP_*` (spans) or `OTEL_BLRP_*` (log records), with the specification's defaults.
        public static func fromEnvironment(_ environment: [String: String], prefix: String, warnings: inout [String]) -> Configuration {
            var configuration = Configuration()
            if prefix == "OTEL_BLRP_" { configuration.scheduleDelay = .seconds(1) }
            func number(_ name: String) -> Int? {
                guard let text = environment[prefix + name], !text.isEmpty else { return nil }
                guard let value = Int(text), value > 0 else {
                    warnings.append("\(prefix)\(name)=\(text) is not a positive number; ignored")
                    return nil
                }
                return value
            }
            if let value = number("MAX_QUEUE_SIZE") { configuration.maxQueueSize = value }
            if let value = number("MAX_EXPORT_BATCH_SIZE") { configuration.maxExportBatchSize = value }
            if let value = number("SCHEDULE_DELAY") { configuration.scheduleDelay = .milliseconds(value) }
            if let value = number("EXPORT_TIMEOUT") { configuration.exportTimeout = .milliseconds(value) }
            if configuration.maxExportBatchSize > configuration.maxQueueSize {
                warnings.append("\(prefix)MAX_EXPORT_BATCH_SIZE is larger than the queue; using the queue size")
                configuration.maxExportBatchSize = configuration.maxQueueSize
            }
            return configuration
        }
    }

    public struct Statistics: Sendable, Hashable {
        public var queued = 0
        public var dropped = 0
        public var exportedBatches = 0
    }

    private struct Queue {
        var items: [Item] = []
        var statistics = Statistics()
        var droppingSince: Int?
    }

    public let configuration: Configuration
    private let queue = Mutex(Queue())
    private let wake = WakeSignal()
    private let export: @Sendable ([Item]) async -> Void

    /// `export` is called with one batch at a time, never concurrently.
    public init(configuration: Configuration = Configuration(), export: @escaping @Sendable ([Item]) async -> Void) {
        self.configuration = configuration
        self.export = export
    }

    /// Queues an item without waiting; when the queue is full, the item is dropped and counted.
    public func add(_ item: Item) {
        let full = queue.withLock { queue -> Bool in
            guard queue.items.count < configuration.maxQueueSize else {
                queue.statistics.dropped += 1
                return false
            }
            queue.items.append(item)
            return queue.items.count == configuration.maxExportBatchSize
        }
        if full { wake.signal() }
    }

    public var statistics: Statistics {
        queue.withLock { queue in
            var statistics = queue.statistics
            statistics.queued = queue.items.count
            return statistics
        }
    }

    /// Exports until cancelled, then flushes what is left within the export timeout.
    public func run() async {
        var lastExport = ContinuousClock.now
        while !Task.isCancelled {
            let due = lastExport + configuration.scheduleDelay
            let wake = self.wake
            await withTaskCancellationHandler {
                await wake.wait(timeout: max(due - ContinuousClock.now, .milliseconds(1)))
            } onCancel: {
                wake.signal()  // shutting down: go straight to the final flush
            }
            while !Task.isCancelled, await exportBatch(fullOnly: true) { lastExport = .now }
            if !Task.isCancelled, ContinuousClock.now >= due {
                _ = await exportBatch(fullOnly: false)
                lastExport = .now
            }
        }
        await flush()
    }

    /// Exports everything queued now (the shutdown path), giving up after the export timeout. It
    /// runs even when the caller was cancelled (shutting down is when it matters).
    public func flush() async {
        let work = Task { while await self.exportBatch(fullOnly: false) {} }
        let timer = Task { [timeout = configuration.exportTimeout] in
            try? await Task.sleep(for: timeout)
            work.cancel()
        }
        await work.value
        timer.cancel()
    }

    /// Takes one batch (a full one only, when `fullOnly`) and exports it; false when there was none.
    private func exportBatch(fullOnly: Bool) async -> Bool {
        let batch = queue.withLock { queue -> [Item] in
            guard !queue.items.isEmpty, !fullOnly || queue.items.count >= configuration.maxExportBatchSize else { return [] }
            let count = min(queue.items.count, configuration.maxExportBatchSize)
            let batch = Array(queue.items.prefix(count))
            queue.items.removeFirst(count)
            return batch
        }
        guard !batch.isEmpty else { return false }
        await export(batch)
        queue.withLock { $0.statistics.exportedBatches += 1 }
        return true
    }
}
