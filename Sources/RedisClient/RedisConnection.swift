import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One Redis connection with its own thread: hiredis calls block, so they run on a
/// single-thread `NIOThreadPool`, never on an event loop or the cooperative pool. Work queued on
/// that thread runs in order, which is what makes a pipeline or a script call atomic on the wire.
///
/// After the server goes away the dead context is discarded; the next command reconnects with
/// capped exponential backoff, waiting at most `connectWait` for a connection.
public final class RedisConnection: Sendable {
    private let configuration: RedisConfiguration
    private let thread: NIOThreadPool
    private let link: Link
    private let logger: Logger
    private let queued = Atomic<Int>(0)

    public init(configuration: RedisConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.link = Link()
        self.thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
    }

    /// Commands queued or running on this connection; the pool sends new work to the least busy.
    var load: Int { queued.load(ordering: .relaxed) }

    /// Sends the commands as one pipeline and returns one reply per command, in order.
    /// Server error replies are returned as `.error`, not thrown.
    public func pipeline(_ commands: [RedisCommand]) async throws(RedisError) -> [RedisReply] {
        if commands.isEmpty { return [] }
        queued.add(1, ordering: .relaxed)
        defer { queued.subtract(1, ordering: .relaxed) }
        let configuration = self.configuration
        let link = self.link
        let logger = self.logger
        do {
            return try await thread.runIfActive {
                try link.run(commands, configuration: configuration, logger: logger)
            }
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(.closed, "the connection is closed", cause: error)
        }
    }

    /// Closes the connection and stops its thread; commands after this fail with `.closed`.
    public func close() async {
        let link = self.link
        _ = try? await thread.runIfActive { link.close() }
        try? await thread.shutdownGracefully()
    }

    /// The hiredis context and reconnect state. Touched only from the connection's single
    /// thread, which is why it can be `@unchecked Sendable`.
    private final class Link: @unchecked Sendable {
        private var context: HiredisContext?
        private var failures = 0
        private var nextAttempt = ContinuousClock.now
        private var lastError: RedisError?
        private var closed = false

        func close() {
            closed = true
            context?.close()
            context = nil
        }

        func run(_ commands: [RedisCommand], configuration: RedisConfiguration, logger: Logger) throws(RedisError) -> [RedisReply] {
            let context = try connected(configuration: configuration, logger: logger)
            do {
                return try context.pipeline(commands)
            } catch {
                self.context = nil
                logger.warning("redis connection lost", metadata: ["redis.endpoint": "\(configuration.endpointDescription)", "error": "\(error)"])
                throw error
            }
        }

        private func connected(configuration: RedisConfiguration, logger: Logger) throws(RedisError) -> HiredisContext {
            if closed { throw RedisError(.closed, "the connection is closed") }
            if let context, context.isAlive, !context.peerClosed { return context }
            context?.close()
            context = nil
            let clock = ContinuousClock()
            let deadline = clock.now + configuration.connectWait
            while true {
                if nextAttempt > clock.now {
                    guard nextAttempt <= deadline else {
                        throw RedisError(.connectionFailed, "Redis at \(configuration.endpointDescription) is unreachable", cause: lastError)
                    }
                    // This thread belongs to this connection alone, so waiting here blocks nobody else.
                    sleepBlocking(until: nextAttempt)
                }
                do {
                    let context = try open(configuration)
                    if failures > 0 {
                        logger.info(
                            "redis reconnected", metadata: ["redis.endpoint": "\(configuration.endpointDescription)", "attempts": "\(failures)"])
                    }
                    failures = 0
                    lastError = nil
                    self.context = context
                    return context
                } catch  where error.code == .authenticationFailed {
                    throw error
                } catch {
                    failures += 1
                    lastError = error
                    nextAttempt = clock.now + RedisConnectionBackoff.delay(failures: failures, configuration)
                    logger.debug("redis connect failed", metadata: ["redis.endpoint": "\(configuration.endpointDescription)", "error": "\(error)"])
                }
            }
        }

        private func open(_ configuration: RedisConfiguration) throws(RedisError) -> HiredisContext {
            let context = try HiredisContext(
                host: configuration.host, port: configuration.port,
                connectTimeout: configuration.connectTimeout, commandTimeout: configuration.commandTimeout)
            var setup: [RedisCommand] = []
            if let password = configuration.password {
                if let user = configuration.user {
                    setup.append(RedisCommand("AUTH", RedisArgument(user), RedisArgument(password)))
                } else {
                    setup.append(RedisCommand("AUTH", RedisArgument(password)))
                }
            }
            if configuration.database != 0 { setup.append(RedisCommand("SELECT", RedisArgument(configuration.database))) }
            for reply in try context.pipeline(setup) {
                if case .error(let message) = reply {
                    context.close()
                    // The server's text may echo the user name, never the password.
                    throw RedisError(.authenticationFailed, "AUTH/SELECT refused: \(message)")
                }
            }
            return context
        }
    }
}

/// Reconnect delays: the first delay, doubled per failed attempt, capped.
enum RedisConnectionBackoff {
    static func delay(failures: Int, _ configuration: RedisConfiguration) -> Duration {
        let exponent = min(max(failures - 1, 0), 20)
        return min(configuration.reconnectInitialDelay * (1 << exponent), configuration.reconnectMaxDelay)
    }
}

/// Blocks the calling thread (a connection's own thread, never a shared one) until `instant`.
private func sleepBlocking(until instant: ContinuousClock.Instant) {
    let remaining = ContinuousClock.now.duration(to: instant)
    guard remaining > .zero else { return }
    let (seconds, attoseconds) = remaining.components
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var left = timespec()
    while nanosleep(&request, &left) == -1 && errno == EINTR { request = left }
}
