import CNats
import FoundationEssentials

/// JetStream over a ``NATSConnection``: streams, publications acknowledged by the server, and
/// durable pull consumers.
public struct JetStream: Sendable {
    public let connection: NATSConnection

    /// Creates the stream, or updates it when it exists with another configuration.
    public func createOrUpdateStream(_ configuration: JetStreamStreamConfiguration) async throws(NATSError) {
        let js = UnsafeSendablePointer(connection.handle.jetStream)
        try await connection.runBlocking { () throws(NATSError) in
            let (status, errorCode) = try LibNATS.withCStrings(configuration.subjects) { (subjects, count) throws(NATSError) in
                configuration.name.withCString { name in
                    var config = jsStreamConfig()
                    jsStreamConfig_Init(&config)
                    config.Name = name
                    config.Subjects = subjects
                    config.SubjectsLen = count
                    config.Retention =
                        switch configuration.retention {
                        case .limits: js_LimitsPolicy
                        case .interest: js_InterestPolicy
                        case .workQueue: js_WorkQueuePolicy
                        }
                    config.Storage = configuration.storage == .file ? js_FileStorage : js_MemoryStorage
                    config.Duplicates = LibNATS.nanoseconds(configuration.duplicateWindow)
                    config.MaxAge = configuration.maxAge.map(LibNATS.nanoseconds) ?? 0
                    config.MaxMsgs = configuration.maxMessages ?? -1
                    config.MaxBytes = configuration.maxBytes ?? -1
                    config.Replicas = Int64(configuration.replicas)

                    var info: UnsafeMutablePointer<jsStreamInfo>?
                    var errorCode = jsErrCode(0)
                    var status = js_AddStream(&info, js.value, &config, nil, &errorCode)
                    if status != NATS_OK && errorCode == JSStreamNameExistErr {
                        if let stale = info { jsStreamInfo_Destroy(stale) }
                        info = nil
                        errorCode = jsErrCode(0)
                        status = js_UpdateStream(&info, js.value, &config, nil, &errorCode)
                    }
                    if let info { jsStreamInfo_Destroy(info) }
                    return (status, errorCode)
                }
            }
            try LibNATS.check(status, errorCode, "creating stream \(configuration.name)")
        }
    }

    public func deleteStream(_ name: String) async throws(NATSError) {
        let js = UnsafeSendablePointer(connection.handle.jetStream)
        try await connection.runBlocking { () throws(NATSError) in
            var errorCode = jsErrCode(0)
            let status = js_DeleteStream(js.value, name, nil, &errorCode)
            try LibNATS.check(status, errorCode, "deleting stream \(name)")
        }
    }

    /// Publishes to a stream and waits for the server's acknowledgement. With a `messageID`
    /// (sent as `Nats-Msg-Id`) a re-send within the stream's duplicate window is stored once
    /// and acknowledged with `duplicate == true`. A `timeout` is ambiguous: re-send with the same id.
    public func publish(
        _ subject: String, payload: [UInt8], messageID: String? = nil, headers: NATSHeaders = NATSHeaders(), timeout: Duration? = nil
    ) async throws(NATSError) -> JetStreamPublishAck {
        var headers = headers
        if let messageID { headers["Nats-Msg-Id"] = messageID }
        let reply: NATSMessage
        do {
            reply = try await connection.request(
                subject, payload: payload, headers: headers, timeout: timeout ?? connection.configuration.jetStreamTimeout)
        } catch  where error.code == .noResponders {
            throw NATSError(.noResponders, "no JetStream stream listens on \(subject)")
        }
        return try Self.decodeAck(reply.payload, subject: subject)
    }

    /// Publishes every message in order without waiting between them, then waits for all the
    /// acknowledgements; each message's outcome at its position.
    public func publish(_ messages: [NATSOutgoing], timeout: Duration? = nil) async -> [Result<JetStreamPublishAck, NATSError>] {
        let replies = await connection.requests(messages, timeout: timeout ?? connection.configuration.jetStreamTimeout)
        return zip(messages, replies).map { message, reply in
            switch reply {
            case .success(let reply): Result { () throws(NATSError) in try Self.decodeAck(reply.payload, subject: message.subject) }
            case .failure(let error) where error.code == .noResponders:
                .failure(NATSError(.noResponders, "no JetStream stream listens on \(message.subject)"))
            case .failure(let error): .failure(error)
            }
        }
    }

    static func decodeAck(_ payload: [UInt8], subject: String) throws(NATSError) -> JetStreamPublishAck {
        struct APIError: Decodable {
            var code: Int
            var err_code: Int?
            var description: String?
        }
        struct Envelope: Decodable { var error: APIError? }
        let data = Data(payload)
        // An acknowledgement names no "error": one decode in the usual case.
        if payload.firstRange(of: Array(#""error""#.utf8)) != nil, let envelope = try? JSONDecoder().decode(Envelope.self, from: data),
            let error = envelope.error
        {
            throw NATSError(.jetStream, "publish on \(subject) refused: \(error.description ?? "code \(error.code)")", jetStreamCode: error.err_code)
        }
        do {
            return try JSONDecoder().decode(JetStreamPublishAck.self, from: data)
        } catch {
            throw NATSError(.protocolViolation, "unreadable publish acknowledgement on \(subject)", cause: error)
        }
    }

    /// Creates (or updates) a durable pull consumer and binds to it. Closing the returned
    /// consumer keeps the durable on the server, so other processes share it.
    public func pullConsumer(stream: String, configuration: JetStreamConsumerConfiguration) async throws(NATSError) -> JetStreamPullConsumer {
        let js = UnsafeSendablePointer(connection.handle.jetStream)
        let subscription = try await connection.runBlocking { () throws(NATSError) -> UnsafeSendablePointer in
            try Self.addConsumer(js.value, stream: stream, configuration)
            return try Self.bind(js.value, stream: stream, configuration)
        }
        return JetStreamPullConsumer(connection: connection, subscription: subscription.value, stream: stream, durableName: configuration.durableName)
    }

    private static func addConsumer(_ js: OpaquePointer, stream: String, _ configuration: JetStreamConsumerConfiguration) throws(NATSError) {
        var config = jsConsumerConfig()
        jsConsumerConfig_Init(&config)
        var backoff = configuration.backoff.map(LibNATS.nanoseconds)
        let status: natsStatus
        var errorCode = jsErrCode(0)
        status = configuration.durableName.withCString { durable in
            configuration.filterSubject.withCString { filter in
                backoff.withUnsafeMutableBufferPointer { backoff in
                    config.Durable = durable
                    config.FilterSubject = filter
                    config.AckPolicy = js_AckExplicit
                    config.AckWait = LibNATS.nanoseconds(configuration.ackWait)
                    config.MaxDeliver = Int64(configuration.maxDeliver)
                    config.MaxAckPending = Int64(configuration.maxAckPending)
                    if let base = backoff.baseAddress, !backoff.isEmpty {
                        config.BackOff = base
                        config.BackOffLen = Int32(backoff.count)
                    }
                    var info: UnsafeMutablePointer<jsConsumerInfo>?
                    var status = js_AddConsumer(&info, js, stream, &config, nil, &errorCode)
                    if status != NATS_OK && errorCode == JSConsumerNameExistErr {
                        errorCode = jsErrCode(0)
                        status = js_UpdateConsumer(&info, js, stream, &config, nil, &errorCode)
                    }
                    if let info { jsConsumerInfo_Destroy(info) }
                    return status
                }
            }
        }
        try LibNATS.check(status, errorCode, "creating consumer \(configuration.durableName) on \(stream)")
    }

    private static func bind(_ js: OpaquePointer, stream: String, _ configuration: JetStreamConsumerConfiguration) throws(NATSError)
        -> UnsafeSendablePointer
    {
        var options = jsSubOptions()
        jsSubOptions_Init(&options)
        var subscription: OpaquePointer?
        var errorCode = jsErrCode(0)
        let status = stream.withCString { stream in
            configuration.durableName.withCString { durable in
                options.Stream = stream
                options.Consumer = durable
                return js_PullSubscribe(&subscription, js, configuration.filterSubject, durable, nil, &options, &errorCode)
            }
        }
        try LibNATS.check(status, errorCode, "binding to consumer \(configuration.durableName) on \(stream)")
        guard let subscription else { throw NATSError(.library, "js_PullSubscribe returned no subscription") }
        return UnsafeSendablePointer(subscription)
    }
}
