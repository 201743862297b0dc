import CHiredis
import Glibc

/// One live hiredis context. Synchronous and not thread-safe: only ``RedisConnection`` uses it,
/// and only from that connection's own thread. Once hiredis reports an error the context is dead
/// (hiredis's own rule) and is freed, never reused.
final class HiredisContext {
    private var context: UnsafeMutablePointer<redisContext>?

    var isAlive: Bool { context != nil }

    /// Connects and applies the command timeout (hiredis 0.14 applies the connect timeout only
    /// to the connect itself).
    init(host: String, port: Int, connectTimeout: Duration, commandTimeout: Duration) throws(RedisError) {
        guard let context = redisConnectWithTimeout(host, Int32(port), Self.timeval(connectTimeout)) else {
            throw RedisError(.connectionFailed, "could not allocate a hiredis context")
        }
        if context.pointee.err != 0 {
            let message = Self.errorString(context)
            redisFree(context)
            throw RedisError(.connectionFailed, "connect to \(host):\(port) failed: \(message)")
        }
        if redisSetTimeout(context, Self.timeval(commandTimeout)) != REDIS_OK {
            redisFree(context)
            throw RedisError(.connectionFailed, "could not set the socket timeout on \(host):\(port)")
        }
        _ = redisEnableKeepAlive(context)
        self.context = context
    }

    deinit { close() }

    /// True when an idle connection has something to read: the server closed it (EOF) or sent
    /// something unasked. Checked before each use, so a command is never sent on a socket the
    /// server already dropped (which would make its outcome look indeterminate).
    var peerClosed: Bool {
        guard let context else { return true }
        var descriptor = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    func close() {
        if let context { redisFree(context) }
        context = nil
    }

    /// Sends every command, then reads every reply (hiredis flushes the output buffer on the
    /// first read). A failure kills the context and is reported as indeterminate: the commands
    /// may have reached the server.
    func pipeline(_ commands: [RedisCommand]) throws(RedisError) -> [RedisReply] {
        guard let context else { throw RedisError(.connectionFailed, "no connection") }
        for command in commands {
            guard Self.append(context, command) == REDIS_OK else {
                let error = RedisError(.connectionFailed, "could not queue a command: \(Self.errorString(context))")
                close()
                throw error
            }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
                let error = failure(context)
                close()
                throw error
            }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            replies.append(Self.convert(reply))
            freeReplyObject(raw)
        }
        return replies
    }

    private func failure(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
        let message = Self.errorString(context)
        switch context.pointee.err {
        case REDIS_ERR_PROTOCOL:
            return RedisError(.protocolViolation, message)
        case REDIS_ERR_IO where imn_errno() == EAGAIN || imn_errno() == EWOULDBLOCK:
            // hiredis 0.14 has no REDIS_ERR_TIMEOUT: a read timeout is an IO error with EAGAIN.
            return RedisError(.indeterminate, "timed out waiting for the reply", cause: SystemError(errno: imn_errno()))
        case REDIS_ERR_IO:
            return RedisError(.indeterminate, "connection lost: \(message)", cause: SystemError(errno: imn_errno()))
        default:
            return RedisError(.indeterminate, "connection lost: \(message)")
        }
    }

    private static func append(_ context: UnsafeMutablePointer<redisContext>, _ command: RedisCommand) -> Int32 {
        let arguments = command.arguments
        // All arguments are laid out in one buffer that stays put while hiredis copies it.
        let total = arguments.reduce(0) { $0 + $1.bytes.count }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 1)
        defer { storage.deallocate() }
        guard let base = storage.baseAddress else { return REDIS_ERR }
        var pointers: [UnsafePointer<CChar>?] = []
        var lengths: [Int] = []
        pointers.reserveCapacity(arguments.count)
        lengths.reserveCapacity(arguments.count)
        var offset = 0
        for argument in arguments {
            let start = base + offset
            argument.bytes.withUnsafeBytes { source in
                if let from = source.baseAddress { start.copyMemory(from: from, byteCount: source.count) }
            }
            pointers.append(UnsafePointer(start.assumingMemoryBound(to: CChar.self)))
            lengths.append(argument.bytes.count)
            offset += argument.bytes.count
        }
        return redisAppendCommandArgv(context, Int32(arguments.count), &pointers, lengths)
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            return .string(bytes(r.str, r.len))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: bytes(r.str, r.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: bytes(r.str, r.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(r.integer))
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            elements.reserveCapacity(r.elements)
            for index in 0..<r.elements {
                if let element = r.element?[index] { elements.append(convert(element)) } else { elements.append(.null) }
            }
            return .array(elements)
        default:
            return .null
        }
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int) -> [UInt8] {
        guard let pointer, length > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: length).bindMemory(to: UInt8.self))
    }

    private static func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let chars = raw.bindMemory(to: UInt8.self)
            let end = chars.firstIndex(of: 0) ?? chars.endIndex
            return String(decoding: chars[..<end], as: UTF8.self)
        }
    }

    private static func timeval(_ duration: Duration) -> Glibc.timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
