import FoundationEssentials
import IMNCore

/// How to reach NATS. Defaults reconnect forever, which is what agents and servers want.
public struct NATSConfiguration: Sendable {
    public enum Authentication: Sendable {
        case none
        case userPassword(user: String, password: String)
        case token(String)
        /// A `.creds` file holding a user JWT and its nkey seed.
        case credentialsFile(path: String)
    }

    /// Server URLs tried in order (`nats://host:port`); any one of them is enough.
    public var urls: [String] = ["nats://127.0.0.1:4222"]
    /// Connection name, shown by the server's monitoring endpoint.
    public var name: String = "imn"
    public var authentication: Authentication = .none
    /// Time allowed for one connect attempt.
    public var connectTimeout: Duration = .seconds(2)
    /// First delay after every server of the list failed to reconnect; it doubles per round up
    /// to `maxReconnectWait`, with up to 10 % jitter so that many clients do not reconnect in step.
    public var reconnectWait: Duration = .milliseconds(100)
    public var maxReconnectWait: Duration = .seconds(2)
    /// Reconnect attempts per server; `nil` means forever.
    public var maxReconnectAttempts: Int? = nil
    /// Bytes of publications kept while disconnected and sent after reconnecting. When it is
    /// full, publishing fails with `bufferFull`.
    public var reconnectBufferSize: Int = 8 * 1024 * 1024
    /// Write every publication to the socket at once (libnats's "send ASAP"). On by default:
    /// requests, replies and JetStream publications then take one network round trip instead of
    /// waiting for libnats's flusher, which adds about 1 ms per hop. Turn it off on connections
    /// that publish in bulk, where batching writes raises throughput.
    public var publishImmediately: Bool = true
    /// When no server answers at start, keep trying in the background instead of failing.
    public var retryOnFailedConnect: Bool = false
    /// Messages a subscription buffers for a slow reader before it drops (and counts) new ones.
    public var subscriptionBufferSize: Int = 8192
    /// Prefix of the subjects replies come back on (`_INBOX` by default). A user whose
    /// subscriptions are restricted is allowed its own prefix, e.g. `_INBOX.<agent>`.
    public var inboxPrefix: String? = nil
    /// How long JetStream API calls and publications wait for the server's answer.
    public var jetStreamTimeout: Duration = .seconds(5)

    public init() {}

    /// A NATS server on this machine at its usual port.
    public static let localURL = "nats://127.0.0.1:4222"

    public init(url: String) {
        self.init()
        self.urls = url.split(separator: ",").map(\.trimmed).filter { !$0.isEmpty }
    }
}

extension NATSConfiguration {
    /// The URLs with any password replaced by `***`, for logs and errors.
    public var redactedURLs: String {
        urls.map { url in
            guard let scheme = url.firstRange(of: "://") else { return url }
            let rest = url[scheme.upperBound...]
            guard let at = rest.firstIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") else { return url }
            return String(url[...colon]) + "***" + String(url[at...])
        }.joined(separator: ",")
    }
}
