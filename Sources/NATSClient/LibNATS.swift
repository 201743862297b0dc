import CNats

#if canImport(Glibc)
    import Glibc
#endif

/// Small helpers around libnats values; everything C stays inside this module.
enum LibNATS {
    /// Turns a libnats status into a typed error, with libnats's own last-error text.
    static func error(_ status: natsStatus, _ what: String) -> NATSError {
        let text = String(cString: natsStatus_GetText(status))
        var detail = ""
        var last = NATS_OK
        if let raw = nats_GetLastError(&last), last == status {
            detail = String(cString: raw)
        }
        let message = detail.isEmpty || detail == text ? "\(what): \(text)" : "\(what): \(text) (\(detail))"
        switch status {
        case NATS_NO_SERVER, NATS_NO_SERVER_SUPPORT, NATS_NOT_YET_CONNECTED: return NATSError(.connectionFailed, message)
        case NATS_CONNECTION_CLOSED, NATS_CONNECTION_DISCONNECTED: return NATSError(.closed, message)
        case NATS_TIMEOUT: return NATSError(.timeout, message)
        case NATS_NO_RESPONDERS: return NATSError(.noResponders, message)
        case NATS_INSUFFICIENT_BUFFER: return NATSError(.bufferFull, message)
        case NATS_INVALID_ARG, NATS_INVALID_SUBJECT, NATS_INVALID_SUBSCRIPTION: return NATSError(.invalidArgument, message)
        case NATS_PROTOCOL_ERROR: return NATSError(.protocolViolation, message)
        default: return NATSError(.library, message)
        }
    }

    static func check(_ status: natsStatus, _ what: @autoclosure () -> String) throws(NATSError) {
        if status != NATS_OK { throw error(status, what()) }
    }

    /// Like ``check(_:_:)`` for JetStream calls, which also report JetStream's own error code.
    static func check(_ status: natsStatus, _ errorCode: jsErrCode, _ what: @autoclosure () -> String) throws(NATSError) {
        guard status != NATS_OK else { return }
        var error = error(status, what())
        if errorCode.rawValue != 0 {
            error.code = .jetStream
            error.jetStreamCode = Int(errorCode.rawValue)
        }
        throw error
    }

    /// Copies a received C message into Swift values. The caller still owns (and frees) `msg`.
    static func copy(_ msg: OpaquePointer) -> NATSMessage {
        let subject = natsMsg_GetSubject(msg).map { String(cString: $0) } ?? ""
        let reply = natsMsg_GetReply(msg).map { String(cString: $0) }
        var payload: [UInt8] = []
        let length = Int(natsMsg_GetDataLength(msg))
        if length > 0, let data = natsMsg_GetData(msg) {
            payload = Array(UnsafeRawBufferPointer(start: data, count: length))
        }
        return NATSMessage(subject: subject, replyTo: reply, headers: headers(of: msg), payload: payload)
    }

    private static func headers(of msg: OpaquePointer) -> NATSHeaders {
        var result = NATSHeaders()
        var keys: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        var keyCount: Int32 = 0
        guard natsMsgHeader_Keys(msg, &keys, &keyCount) == NATS_OK, let keys else { return result }
        defer { imn_free_keys(keys) }
        for index in 0..<Int(keyCount) {
            guard let key = keys[index] else { continue }
            var values: UnsafeMutablePointer<UnsafePointer<CChar>?>?
            var valueCount: Int32 = 0
            guard natsMsgHeader_Values(msg, key, &values, &valueCount) == NATS_OK, let values else { continue }
            defer { imn_free_keys(values) }
            let name = String(cString: key)
            for valueIndex in 0..<Int(valueCount) {
                if let value = values[valueIndex] { result.add(name, String(cString: value)) }
            }
        }
        return result
    }

    /// Builds a C message with headers; the caller destroys it.
    static func makeMessage(subject: String, replyTo: String?, headers: NATSHeaders, payload: [UInt8]) throws(NATSError) -> OpaquePointer {
        var msg: OpaquePointer?
        let status = payload.withUnsafeBytes { bytes in
            natsMsg_Create(&msg, subject, replyTo, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        }
        try check(status, "creating a message for \(subject)")
        guard let msg else { throw NATSError(.library, "natsMsg_Create returned no message") }
        for (name, value) in headers {
            let status = natsMsgHeader_Add(msg, name, value)
            if status != NATS_OK {
                natsMsg_Destroy(msg)
                throw error(status, "setting header \(name)")
            }
        }
        return msg
    }

    /// Calls `body` with a C array of C strings that live for the duration of the call.
    static func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, Int32) throws(NATSError) -> R)
        throws(NATSError) -> R
    {
        let duplicates = strings.map { strdup($0) }
        defer { duplicates.forEach { free($0) } }
        var pointers = duplicates.map { UnsafePointer($0) }
        pointers.append(nil)
        return try pointers.withUnsafeMutableBufferPointer { (buffer) throws(NATSError) -> R in
            guard let base = buffer.baseAddress else { throw NATSError(.library, "empty string array") }
            return try body(base, Int32(strings.count))
        }
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
