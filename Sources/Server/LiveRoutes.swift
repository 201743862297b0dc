import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The live stream: `GET /live/events` (Server-Sent Events) and `GET /live` (WebSocket), both
/// filtered by `agent`, `module` and `kind` (comma-separated lists). Each event is one JSON object
/// with a `kind`: `heartbeats`, `agent`, `state` or `result`.
extension IMNServer {
    /// Seconds between keep-alives, which also notice clients that went away.
    static let liveKeepAlive: Duration = .seconds(15)

    static func liveEvents(_ request: Request, hub: LiveHub) throws -> Response {
        let filter = try LiveFilter(query: query(request))
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                let subscription = hub.subscribe(filter)
                let ticker = keepingAlive(subscription)
                defer {
                    ticker.cancel()
                    subscription.close()
                }
                try await writer.write(ByteBuffer(string: ": imn live events\n\n"))
                for await bytes in subscription.events {
                    var buffer = ByteBuffer()
                    if bytes.isEmpty {
                        buffer.writeString(": keep-alive\n\n")
                    } else {
                        buffer.writeString("data: ")
                        buffer.writeBytes(bytes)
                        buffer.writeString("\n\n")
                    }
                    try await writer.write(buffer)
                }
                try await writer.finish(nil)
            })
    }

    /// The router for WebSocket upgrades: only `/live`, behind the same tokens as the REST API.
    func makeLiveRouter(_ hub: LiveHub) -> Router<BasicWebSocketRequestContext> {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.add(middleware: AuthenticationMiddleware(tokens: configuration.tokens))
        router.ws("/live") { request, _ in
            do {
                _ = try LiveFilter(query: Self.query(request))
            } catch let problem as Problem {
                throw HTTPError(.badRequest, message: problem.detail)
            }
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            let subscription = hub.subscribe((try? LiveFilter(query: Self.query(context.request))) ?? LiveFilter())
            defer { subscription.close() }
            // The client's side ends the stream: a close frame, or the connection gone.
            let reader = Task {
                for try await _ in inbound {}
                subscription.close()
            }
            defer { reader.cancel() }
            for await bytes in subscription.events where !bytes.isEmpty {
                try await outbound.write(.text(String(decoding: bytes, as: UTF8.self)))
            }
        }
        return router
    }

    private static func keepingAlive(_ subscription: LiveSubscription) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: liveKeepAlive)
                subscription.keepAlive()
            }
        }
    }
}
