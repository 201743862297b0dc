import FoundationEssentials
import Glibc
import IMNCore

/// Sends probes with rising TTLs and collects what answers, for `traceroute` (one pass, several
/// probes per hop) and `mtr` (many rounds of one probe per hop over the path found).
/// Blocking: runs on a probe thread.
struct TraceRun {
    struct Options: Sendable {
        var mode: TraceProtocol
        var port: Int
        var firstTTL: Int
        var maxTTL: Int
        /// Seconds to wait for each probe's answer.
        var wait: Double
        /// Probes awaiting an answer at once.
        var inFlight: Int
        /// Seconds between two probes' sends (0: as fast as `inFlight` allows).
        var sendInterval: Double = 0
    }

    /// One probe's fate.
    struct Probe: Sendable {
        var ttl: Int
        var answer: TraceAnswer?
        var rtt: Duration?
    }

    let sockets: TraceSockets
    let options: Options
    let cancelled: CancelFlag
    /// Probe numbers go on rising across rounds, so a late answer is never mistaken.
    private(set) var probes: [Probe] = []
    /// The lowest TTL at which the target answered or a router said it is unreachable: no
    /// probe goes further.
    private(set) var endTTL: Int?

    init(_ target: ResolvedAddress, options: Options, cancelled: CancelFlag) throws(ModuleError) {
        sockets = try TraceSockets(target: target, mode: options.mode, port: options.port)
        self.options = options
        self.cancelled = cancelled
    }

    /// Sends one probe for each TTL of `ttls` (in order; TTLs past the target once it has
    /// answered are skipped) and waits for their answers. Returns the probe numbers used.
    @discardableResult
    mutating func pass(_ ttls: [Int]) throws(ModuleError) -> Range<Int> {
        let first = probes.count
        let wait = Duration.milliseconds(Int64(options.wait * 1000))
        let gap = Duration.milliseconds(Int64(options.sendInterval * 1000))
        var sentAt: [Int: (realtime: timespec, monotonic: ContinuousClock.Instant)] = [:]
        var pending = ttls[...]
        var lastSend = ContinuousClock.now - gap
        while !cancelled.isSet {
            let now = ContinuousClock.now
            let waiting = sentAt.filter { probes[$0.key].answer == nil && now < $0.value.monotonic + wait }
            if let endTTL { pending = pending.filter { $0 <= endTTL }[...] }
            if waiting.count < options.inFlight, let ttl = pending.first, now >= lastSend + gap {
                pending = pending.dropFirst()
                let number = probes.count
                probes.append(Probe(ttl: ttl))
                sentAt[number] = try sockets.send(probe: number, ttl: ttl)
                lastSend = sentAt[number]?.monotonic ?? now
                continue
            }
            if pending.isEmpty && waiting.isEmpty { break }
            let nextDeadline = waiting.values.map { $0.monotonic + wait }.min() ?? now + .milliseconds(10)
            let nextSend = pending.isEmpty || waiting.count >= options.inFlight ? nextDeadline : max(now, lastSend + gap)
            for answer in sockets.receive(timeout: max(.zero, min(nextDeadline, nextSend, now + .milliseconds(100)) - now)) {
                guard answer.probe >= first, answer.probe < probes.count, probes[answer.probe].answer == nil,
                    let sent = sentAt[answer.probe], answer.arrived - sent.monotonic <= wait
                else { continue }
                probes[answer.probe].answer = answer
                probes[answer.probe].rtt = Self.rtt(sent, answer)
                if answer.reached || Self.unreachableMark(answer, ipv6: sockets.ipv6) != nil {
                    endTTL = min(endTTL ?? .max, probes[answer.probe].ttl)
                }
            }
        }
        if cancelled.isSet { throw ModuleError("cancelled") }
        return first..<probes.count
    }

    /// From the send to the kernel's receive stamp, unless the wall clock jumped in between.
    static func rtt(_ sent: (realtime: timespec, monotonic: ContinuousClock.Instant), _ answer: TraceAnswer) -> Duration {
        let monotonic = answer.arrived - sent.monotonic
        guard let kernel = answer.kernelTime else { return monotonic }
        let stamped = Duration.seconds(kernel.tv_sec - sent.realtime.tv_sec) + .nanoseconds(kernel.tv_nsec - sent.realtime.tv_nsec)
        return stamped > .zero && stamped <= monotonic + .milliseconds(1) ? stamped : monotonic
    }

    /// ICMP unreachable codes as traceroute prints them (`!H`, `!N`, `!X`, …); nil for none.
    static func unreachableMark(_ answer: TraceAnswer, ipv6: Bool) -> String? {
        guard let type = answer.icmpType, let code = answer.icmpCode, type == (ipv6 ? 1 : 3) else { return nil }
        if ipv6 {
            switch code {
            case 0: return "!N"
            case 1: return "!X"
            case 3: return "!H"
            case 4: return answer.reached ? nil : "!P"
            default: return "!<\(code)>"
            }
        }
        switch code {
        case 0: return "!N"
        case 1: return "!H"
        case 2: return "!P"
        case 3: return answer.reached ? nil : "!P"
        case 4: return "!F"
        case 9, 10, 13: return "!X"
        default: return "!<\(code)>"
        }
    }
}

extension TraceRun {
    /// What traceroute and mtr share: resolves `host` (target policy first), runs `probe` with a
    /// fresh run on a probe thread (cancelled with the task), and gives the hops up to where the
    /// path ended. A failure is recorded as `probe_success` 0 before it is rethrown.
    static func hops(
        to host: String, options: Options, module: String, context: ModuleContext,
        _ probe: @escaping @Sendable (inout TraceRun, CancelFlag) throws -> Void
    ) async throws -> (address: ResolvedAddress, hops: [TraceHop]) {
        let cancelled = CancelFlag()
        let started = ContinuousClock.now
        do {
            let (address, probes, endTTL) = try await withTaskCancellationHandler {
                try await ProbeThreads.pool.runIfActive {
                    let address = try ResolvedAddress.resolve(host, policy: context.targetPolicy)
                    var run = try TraceRun(address, options: options, cancelled: cancelled)
                    try probe(&run, cancelled)
                    return (address, run.probes, run.endTTL)
                }
            } onCancel: {
                cancelled.set()
            }
            return (address, TraceHop.hops(probes, through: endTTL ?? options.maxTTL, ipv6: address.isIPv6))
        } catch {
            context.metrics.probe(module: module, target: host, success: false, duration: ContinuousClock.now - started)
            throw error
        }
    }
}
