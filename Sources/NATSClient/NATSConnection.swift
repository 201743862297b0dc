import CNats
import Logging
import NIOPosix

/// A connection to NATS through libnats: publish with headers, subscriptions as async
/// sequences, request/reply, and the ``JetStream`` API.
///
/// libnats reconnects forever by default (see ``NATSConfiguration``), buffers publications while
/// disconnected and re-subscribes after reconnecting; ``state`` and ``statistics`` report it.
/// Calls that block in libnats (connect, flush, JetStream management, fetch) run on a small
/// thread pool of this connection, never on the cooperative pool.
public final class NATSConnection: Sendable {
    public let configuration: NATSConfiguration
    let handle: ConnectionHandle
    let blocking: NIOThreadPool
    let logger: Logger
    private let events: ConnectionEvents
    private let router: ResponseRouter
    private let routerSubscription: SubscriptionHandle

    private init(
        configuration: NATSConfiguration, handle: ConnectionHandle, blocking: NIOThreadPool, events: ConnectionEvents,
        router: ResponseRouter, routerSubscription: SubscriptionHandle, logger: Logger
    ) {
        self.configuration = configuration
        self.handle = handle
        self.blocking = blocking
        self.events = events
        self.router = router
        self.routerSubscription = routerSubscription
        self.logger = logger
    }

    /// Connects to the first reachable server of ``NATSConfiguration/urls``. With
    /// `retryOnFailedConnect` it returns once libnats is retrying in the background (at once when
    /// no server listens; after the connect timeout when one accepts but does not answer).
    public static func connect(_ configuration: NATSConfiguration, logger: Logger = Logger(label: "imn.nats")) async throws(NATSError)
        -> NATSConnection
    {
        guard !configuration.urls.isEmpty else { throw NATSError(.invalidArgument, "no NATS URL given") }
        let blocking = NIOThreadPool(numberOfThreads: 2)
        blocking.start()
        do {
            let (pointer, events) = try await openKeepingRetrying(configuration, blocking: blocking, logger: logger)
            let handle = try ConnectionHandle(pointer.value, jetStreamWait: configuration.jetStreamTimeout)
            if natsConnection_Status(pointer.value) == NATS_CONN_STATUS_CONNECTED { events.transition(to: .connected) }
            let router = ResponseRouter(prefix: try Self.makeInboxPrefix(configuration.inboxPrefix))
            let routerSubscription = try Self.subscribe(pointer.value, subject: router.prefix + "*", queue: nil, sink: router.makeSink())
            logger.debug("nats connected", metadata: ["nats.urls": "\(configuration.redactedURLs)", "nats.name": "\(configuration.name)"])
            return NATSConnection(
                configuration: configuration, handle: handle, blocking: blocking, events: events, router: router,
                routerSubscription: routerSubscription, logger: logger)
        } catch {
            try? await blocking.shutdownGracefully()
            if let error = error as? NATSError { throw error }
            throw NATSError(.library, "connect failed", cause: error)
        }
    }

    /// Opens the libnats connection. With `retryOnFailedConnect`, libnats 3.4 (Debian 12's) gives
    /// up instead of retrying when its first attempt reached a server whose handshake failed (a
    /// stalled or overloaded server, a proxy that accepts and closes): the connection just closes
    /// (fixed upstream in nats.c 3.12). ``open(_:events:)`` notices that, and this opens another.
    private static func openKeepingRetrying(
        _ configuration: NATSConfiguration, blocking: NIOThreadPool, logger: Logger
    ) async throws -> (UnsafeSendablePointer, ConnectionEvents) {
        var attempt = 0
        while true {
            let events = ConnectionEvents(reconnectWait: configuration.reconnectWait, maxReconnectWait: configuration.maxReconnectWait)
            let reason: String
            switch try await blocking.runIfActive({ try Self.open(configuration, events: events) }) {
            case .connection(let pointer): return (pointer, events)
            case .gaveUp(let text): reason = text
            }
            attempt += 1
            // Warn from the third attempt on: then it is no passing hiccup (wrong password? not NATS?).
            logger.log(
                level: attempt >= 3 ? .warning : .info, "nats: the first connection failed in its handshake; trying again",
                metadata: ["nats.urls": "\(configuration.redactedURLs)", "attempt": "\(attempt)", "error": "\(reason)"])
            do {
                let delay = ConnectionEvents.backoff(
                    rounds: attempt, reconnectWait: configuration.reconnectWait, maxReconnectWait: configuration.maxReconnectWait)
                try await Task.sleep(for: .milliseconds(delay))
            } catch {
                throw NATSError(.connectionFailed, "connect to \(configuration.redactedURLs) cancelled")
            }
        }
    }

    // MARK: State

    public var state: NATSConnectionState { events.state }
    public var statistics: NATSConnectionStatistics { events.statistics }

    /// State changes, starting with the current state; ends when the connection closes.
    public func stateChanges() -> AsyncStream<NATSConnectionState> { events.observe() }

    // MARK: Core NATS

    /// Publishes a message. libnats buffers it (also while reconnecting, up to the reconnect
    /// buffer); ``flush(timeout:)`` waits until the server has everything.
    public func publish(_ subject: String, payload: [UInt8] = [], headers: NATSHeaders = NATSHeaders(), replyTo: String? = nil) throws(NATSError) {
        let nc = handle.connection
        let status: natsStatus
        if headers.isEmpty {
            status = payload.withUnsafeBytes { bytes in
                if let replyTo {
                    natsConnection_PublishRequest(nc, subject, replyTo, bytes.baseAddress, Int32(bytes.count))
                } else {
                    natsConnection_Publish(nc, subject, bytes.baseAddress, Int32(bytes.count))
                }
            }
        } else {
            let msg = try LibNATS.makeMessage(subject: subject, replyTo: replyTo, headers: headers, payload: payload)
            status = natsConnection_PublishMsg(nc, msg)
            natsMsg_Destroy(msg)
        }
        try LibNATS.check(status, "publish on \(subject)")
    }

    public func publish(_ subject: String, text: String, headers: NATSHeaders = NATSHeaders()) throws(NATSError) {
        try publish(subject, payload: Array(text.utf8), headers: headers)
    }

    /// Subscribes to `subject` (wildcards allowed); with `queue`, messages are shared among the
    /// members of that queue group.
    public func subscribe(to subject: String, queue: String? = nil) throws(NATSError) -> NATSSubscription {
        let (stream, continuation) = AsyncStream.makeStream(
            of: NATSMessage.self, bufferingPolicy: .bufferingOldest(max(1, configuration.subscriptionBufferSize)))
        let drops = Counter()
        let events = self.events
        let sink = MessageSink(
            deliver: { message, _ in
                if case .dropped = continuation.yield(message) {
                    drops.increment()
                    events.countDrop()
                }
            },
            complete: { continuation.finish() })
        let handle = try Self.subscribe(self.handle.connection, subject: subject, queue: queue, sink: sink)
        continuation.onTermination = { _ in handle.close() }
        return NATSSubscription(subject: subject, stream: stream, handle: handle, drops: drops)
    }

    /// Sends a request and waits for the first reply. Throws `noResponders` at once when nobody
    /// listens on `subject`, and `timeout` when nobody answers in time.
    public func request(_ subject: String, payload: [UInt8] = [], headers: NATSHeaders = NATSHeaders(), timeout: Duration = .seconds(5))
        async throws(NATSError) -> NATSMessage
    {
        let router = self.router
        let token = router.nextToken()
        let replyTo = router.prefix + String(token)
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    router.register(token, continuation)
                    do throws(NATSError) {
                        try publish(subject, payload: payload, headers: headers, replyTo: replyTo)
                    } catch {
                        router.resolve(token, .failure(error))
                        return
                    }
                    router.armTimeout(token, after: timeout, subject: subject)
                }
            } onCancel: {
                router.resolve(token, .failure(NATSError(.timeout, "request on \(subject) cancelled")))
            }
        } catch let error as NATSError {
            throw error
        } catch {
            throw NATSError(.library, "request on \(subject) failed", cause: error)
        }
    }

    /// Sends every request in order without waiting between them, then waits for all replies:
    /// one round trip for the lot (JetStream publications of an outbox, for instance). Each
    /// request gets its own reply, failure or timeout, at its position.
    public func requests(_ items: [NATSOutgoing], timeout: Duration = .seconds(5)) async -> [Result<NATSMessage, NATSError>] {
        guard !items.isEmpty else { return [] }
        let collector = ReplyCollector(count: items.count)
        let router = self.router
        for (index, item) in items.enumerated() {
            let token = router.nextToken()
            router.register(token) { collector.set(index, $0) }
            do throws(NATSError) {
                try publish(item.subject, payload: item.payload, headers: item.headers, replyTo: router.prefix + String(token))
            } catch {
                router.resolve(token, .failure(error))
                continue
            }
            router.armTimeout(token, after: timeout, subject: item.subject)
        }
        return await collector.all()
    }

    /// Waits until the server has processed everything sent so far (a PING/PONG round trip).
    public func flush(timeout: Duration = .seconds(5)) async throws(NATSError) {
        let nc = UnsafeSendablePointer(handle.connection)
        let milliseconds = LibNATS.milliseconds(timeout)
        try await runBlocking { () throws(NATSError) in
            try LibNATS.check(natsConnection_FlushTimeout(nc.value, milliseconds), "flush")
        }
    }

    /// The JetStream API over this connection.
    public var jetStream: JetStream { JetStream(connection: self) }

    /// Closes the connection: pending publications are flushed, subscriptions end.
    public func close() async {
        events.beginClosing()
        routerSubscription.close()
        let nc = UnsafeSendablePointer(handle.connection)
        _ = try? await blocking.runIfActive { natsConnection_Close(nc.value) }
        events.transition(to: .closed)
        router.failAll(NATSError(.closed, "the connection was closed"))
        try? await blocking.shutdownGracefully()
    }

    /// Runs a blocking libnats call on this connection's threads.
    func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws(NATSError) -> T) async throws(NATSError) -> T {
        do {
            return try await blocking.runIfActive { try body() }
        } catch let error as NATSError {
            throw error
        } catch {
            throw NATSError(.closed, "the connection is closed", cause: error)
        }
    }
}

/// A C pointer handed between threads. libnats objects lock internally, so passing their
/// pointers across threads is safe; Swift cannot see that.
struct UnsafeSendablePointer: @unchecked Sendable {
    let value: OpaquePointer
    init(_ value: OpaquePointer) { self.value = value }
}

/// Owns the `natsConnection*` and the JetStream context; both are freed only when the last
/// Swift reference goes (libnats locks internally, hence `@unchecked Sendable`).
final class ConnectionHandle: @unchecked Sendable {
    let connection: OpaquePointer
    let jetStream: OpaquePointer

    init(_ connection: OpaquePointer, jetStreamWait: Duration) throws(NATSError) {
        var options = jsOptions()
        jsOptions_Init(&options)
        options.Wait = LibNATS.milliseconds(jetStreamWait)
        var js: OpaquePointer?
        let status = natsConnection_JetStream(&js, connection, &options)
        guard status == NATS_OK, let js else {
            natsConnection_Destroy(connection)
            throw LibNATS.error(status, "creating the JetStream context")
        }
        self.connection = connection
        self.jetStream = js
    }

    deinit {
        jsCtx_Destroy(jetStream)
        natsConnection_Close(connection)
        natsConnection_Destroy(connection)
    }
}

extension NATSConnection {
    /// The libnats version this build links.
    public static var libraryVersion: String { "libnats \(String(cString: nats_GetVersion()))" }
}
