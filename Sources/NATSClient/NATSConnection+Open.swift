import CNats

#if canImport(Glibc)
    import Glibc
#endif

extension NATSConnection {
    /// What ``open(_:events:)`` made of one attempt.
    enum Opened: Sendable {
        case connection(UnsafeSendablePointer)
        /// libnats, told to retry a failed first connection, closed it instead (see
        /// ``openKeepingRetrying(_:blocking:logger:)``), with its last error; `events` is spent.
        case gaveUp(String)
    }

    /// Builds libnats options from the configuration and connects (blocking).
    static func open(_ configuration: NATSConfiguration, events: ConnectionEvents) throws(NATSError) -> Opened {
        var options: OpaquePointer?
        try LibNATS.check(natsOptions_Create(&options), "creating NATS options")
        guard let options else { throw NATSError(.library, "natsOptions_Create returned nothing") }
        defer { natsOptions_Destroy(options) }

        try LibNATS.withCStrings(configuration.urls) { (servers, count) throws(NATSError) in
            try LibNATS.check(natsOptions_SetServers(options, servers, count), "invalid NATS URL in \(configuration.redactedURLs)")
        }
        try LibNATS.check(natsOptions_SetName(options, configuration.name), "setting the connection name")
        try LibNATS.check(natsOptions_SetTimeout(options, LibNATS.milliseconds(configuration.connectTimeout)), "setting the connect timeout")
        try LibNATS.check(natsOptions_SetMaxReconnect(options, Int32(clamping: configuration.maxReconnectAttempts ?? -1)), "setting max reconnects")
        try LibNATS.check(
            natsOptions_SetReconnectBufSize(options, Int32(clamping: configuration.reconnectBufferSize)), "setting the reconnect buffer")
        try LibNATS.check(natsOptions_SetSendAsap(options, configuration.publishImmediately), "setting send-asap")
        if let prefix = configuration.inboxPrefix {
            try LibNATS.check(natsOptions_SetCustomInboxPrefix(options, prefix), "invalid inbox prefix \(prefix)")
        }
        switch configuration.authentication {
        case .none: break
        case .userPassword(let user, let password):
            try LibNATS.check(natsOptions_SetUserInfo(options, user, password), "setting user and password")
        case .token(let token):
            try LibNATS.check(natsOptions_SetToken(options, token), "setting the token")
        case .credentialsFile(let path):
            try LibNATS.check(natsOptions_SetUserCredentialsFromFiles(options, path, nil), "reading credentials from \(path)")
        }

        // libnats holds this reference until it reports the connection closed.
        let closure = Unmanaged.passRetained(events).toOpaque()
        try LibNATS.check(natsOptions_SetDisconnectedCB(options, onDisconnected, closure), "setting callbacks")
        try LibNATS.check(natsOptions_SetReconnectedCB(options, onReconnected, closure), "setting callbacks")
        try LibNATS.check(natsOptions_SetClosedCB(options, onClosed, closure), "setting callbacks")
        try LibNATS.check(natsOptions_SetErrorHandler(options, onAsynchronousError, closure), "setting callbacks")
        try LibNATS.check(natsOptions_SetCustomReconnectDelay(options, reconnectDelay, closure), "setting the reconnect backoff")
        if configuration.retryOnFailedConnect {
            try LibNATS.check(natsOptions_SetRetryOnFailedConnect(options, true, onReconnected, closure), "setting retry on failed connect")
        }

        var connection: OpaquePointer?
        let status = natsConnection_Connect(&connection, options)
        if let connection, status == NATS_OK { return .connection(UnsafeSendablePointer(connection)) }
        if let connection, status == NATS_NOT_YET_CONNECTED {
            return retriesInTheBackground(connection, events: events, within: configuration.connectTimeout * configuration.urls.count)
        }
        Unmanaged<ConnectionEvents>.fromOpaque(closure).release()
        throw LibNATS.error(status, "connect to \(configuration.redactedURLs)")
    }

    /// After `NATS_NOT_YET_CONNECTED`, waits (polling, on the blocking pool) until libnats either
    /// connects or schedules its first retry — or closes the connection, libnats 3.4's bug, in
    /// which case the connection is destroyed and its last error returned.
    private static func retriesInTheBackground(_ connection: OpaquePointer, events: ConnectionEvents, within timeout: Duration) -> Opened {
        // Each attempt of the reconnect thread takes at most the connect timeout per server.
        let deadline = ContinuousClock.now + timeout + .seconds(5)
        while ContinuousClock.now < deadline {
            let status = natsConnection_Status(connection)
            if status == NATS_CONN_STATUS_CONNECTED || events.retryScheduled { return .connection(UnsafeSendablePointer(connection)) }
            if status == NATS_CONN_STATUS_CLOSED {
                var text: UnsafePointer<CChar>?
                let code = natsConnection_GetLastError(connection, &text)
                let reason = text.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? String(cString: natsStatus_GetText(code))
                natsConnection_Destroy(connection)
                return .gaveUp(reason)
            }
            usleep(1_000)
        }
        return .connection(UnsafeSendablePointer(connection))
    }

    /// Makes a libnats subscription that feeds `sink`.
    static func subscribe(_ nc: OpaquePointer, subject: String, queue: String?, sink: MessageSink) throws(NATSError) -> SubscriptionHandle {
        let closure = Unmanaged.passRetained(sink).toOpaque()
        var subscription: OpaquePointer?
        let status =
            if let queue {
                natsConnection_QueueSubscribe(&subscription, nc, subject, queue, MessageSink.onMessage, closure)
            } else {
                natsConnection_Subscribe(&subscription, nc, subject, MessageSink.onMessage, closure)
            }
        guard status == NATS_OK, let subscription else {
            Unmanaged<MessageSink>.fromOpaque(closure).release()
            throw LibNATS.error(status, "subscribe to \(subject)")
        }
        let completion = natsSubscription_SetOnCompleteCB(subscription, MessageSink.onComplete, closure)
        guard completion == NATS_OK else {
            // A message callback may already be running, so the sink is not released here.
            _ = natsSubscription_Unsubscribe(subscription)
            natsSubscription_Destroy(subscription)
            throw LibNATS.error(completion, "subscribe to \(subject)")
        }
        return SubscriptionHandle(subscription)
    }

    /// `<prefix>.<unique>.`: `_INBOX.<nuid>.` unless the configuration names another prefix.
    static func makeInboxPrefix(_ custom: String?) throws(NATSError) -> String {
        var inbox: UnsafeMutablePointer<natsInbox>?
        try LibNATS.check(natsInbox_Create(&inbox), "creating an inbox")
        guard let inbox else { throw NATSError(.library, "natsInbox_Create returned nothing") }
        defer { natsInbox_Destroy(inbox) }
        let made = String(cString: inbox)
        guard let custom, made.hasPrefix("_INBOX.") else { return made + "." }
        return custom + "." + made.dropFirst("_INBOX.".count) + "."
    }
}

private func events(_ closure: UnsafeMutableRawPointer?) -> ConnectionEvents? {
    closure.map { Unmanaged<ConnectionEvents>.fromOpaque($0).takeUnretainedValue() }
}

private let onDisconnected: natsConnectionHandler = { _, closure in events(closure)?.transition(to: .reconnecting) }
private let onReconnected: natsConnectionHandler = { _, closure in events(closure)?.transition(to: .connected) }
private let onClosed: natsConnectionHandler = { _, closure in
    guard let closure else { return }
    Unmanaged<ConnectionEvents>.fromOpaque(closure).takeRetainedValue().transition(to: .closed)
}
private let reconnectDelay: natsCustomReconnectDelayHandler = { _, attempts, closure in
    events(closure)?.reconnectDelay(rounds: Int(attempts)) ?? 1000
}
private let onAsynchronousError: natsErrHandler = { _, _, _, closure in events(closure)?.countAsynchronousError() }
