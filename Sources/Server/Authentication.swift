import Foundation
import Hummingbird
import Synchronization

/// A REST API token: its secret, what it may do (`read`: GET; `write`: POST and DELETE), an
/// optional rate limit (requests per second, bursts up to one second's worth) and an optional
/// limit on the measurements it has in flight at once.
public struct APIToken: Sendable, Decodable {
    public enum Scope: String, Sendable, Decodable { case read, write }

    public var name: String
    public var token: String
    public var scopes: Set<Scope>
    public var ratePerSecond: Double?
    /// Measurements started with this token and not yet terminal, at most (per server replica).
    public var maxConcurrentMeasurements: Int?

    /// The token of the request being handled (set by the authentication middleware).
    @TaskLocal static var current: APIToken?

    public init(name: String, token: String, scopes: Set<Scope>, ratePerSecond: Double? = nil, maxConcurrentMeasurements: Int? = nil) {
        self.name = name
        self.token = token
        self.scopes = scopes
        self.ratePerSecond = ratePerSecond
        self.maxConcurrentMeasurements = maxConcurrentMeasurements
    }

    enum CodingKeys: String, CodingKey {
        case name, token, scopes, ratePerSecond = "rate_per_second", maxConcurrentMeasurements = "max_concurrent_measurements"
    }

    /// Tokens from a JSON file:
    /// `[{"name": "ci", "token": "…", "scopes": ["read", "write"], "rate_per_second": 20, "max_concurrent_measurements": 8}]`.
    public static func load(file: String) throws -> [APIToken] {
        let tokens = try JSONDecoder().decode([APIToken].self, from: Data(contentsOf: URL(fileURLWithPath: file)))
        for token in tokens { try token.check() }
        return tokens
    }

    /// Tokens from `IMN_API_TOKENS`: `name:token:read+write[:rate[:concurrent]],…` (an empty rate
    /// is none: `ci:…:write::4`).
    public static func parse(environment text: String) throws -> [APIToken] {
        try text.split(separator: ",").map { entry in
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard (3...5).contains(parts.count) else {
                throw APITokenError("IMN_API_TOKENS entries are name:token:read+write[:rate[:concurrent]]")
            }
            var scopes: Set<Scope> = []
            for scope in parts[2].split(separator: "+") {
                guard let parsed = Scope(rawValue: String(scope)) else { throw APITokenError("unknown scope \"\(scope)\" (read, write)") }
                scopes.insert(parsed)
            }
            let rate = parts.count >= 4 && !parts[3].isEmpty ? Double(parts[3]) ?? -1 : nil
            let concurrent = parts.count == 5 ? Int(parts[4]) ?? -1 : nil
            let token = APIToken(name: parts[0], token: parts[1], scopes: scopes, ratePerSecond: rate, maxConcurrentMeasurements: concurrent)
            try token.check()
            return token
        }
    }

    func check() throws {
        guard token.utf8.count >= 16 else { throw APITokenError("token \"\(name)\" is shorter than 16 characters") }
        if let ratePerSecond, !(ratePerSecond > 0 && ratePerSecond.isFinite) {
            throw APITokenError("the rate of \"\(name)\" must be a positive number")
        }
        if let maxConcurrentMeasurements, maxConcurrentMeasurements <= 0 {
            throw APITokenError("the concurrent measurements of \"\(name)\" must be a positive whole number")
        }
    }
}

public struct APITokenError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Bearer-token authentication, scope checks and per-token rate limits. With no tokens configured
/// the API is open. Liveness, readiness, metrics and the API description stay open always.
struct AuthenticationMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: [APIToken]
    private let buckets: [TokenBucket?]

    init(tokens: [APIToken]) {
        self.tokens = tokens
        buckets = tokens.map { $0.ratePerSecond.map(TokenBucket.init) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The web page itself holds no data (it asks for a token and sends it with every call).
        let page = request.uri.path == "/" && IMNServer.wantsPage(request)
        guard !tokens.isEmpty, !openPaths.contains(request.uri.path), !page else { return try await next(request, context) }
        var challenge = HTTPFields()
        challenge[.wwwAuthenticate] = "Bearer realm=\"imn\""
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            return Problem(status: .unauthorized, title: "Authentication required", detail: "send Authorization: Bearer <token>", headers: challenge)
                .response
        }
        let presented = Array(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)
        guard let index = tokens.firstIndex(where: { Self.equal(Array($0.token.utf8), presented) }) else {
            return Problem(status: .unauthorized, title: "Invalid token", detail: "the bearer token is not known", headers: challenge).response
        }
        let token = tokens[index]
        let needed: APIToken.Scope = request.method == .get || request.method == .head ? .read : .write
        guard token.scopes.contains(needed) else {
            return Problem(status: .forbidden, title: "Not allowed", detail: "token \"\(token.name)\" lacks the \(needed.rawValue) scope").response
        }
        if let bucket = buckets[index], let wait = bucket.take() {
            return Problem(
                status: .tooManyRequests, title: "Rate limit exceeded",
                detail: "token \"\(token.name)\" allows \(token.ratePerSecond ?? 0) requests/s",
                headers: .retryAfter(seconds: wait)
            ).response
        }
        return try await APIToken.$current.withValue(token) { try await next(request, context) }
    }

    /// Compares in time independent of where the bytes differ.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}

extension HTTPFields {
    /// `Retry-After` in whole seconds, at least 1.
    static func retryAfter(seconds: Double) -> HTTPFields {
        var fields = HTTPFields()
        fields[.retryAfter] = String(Swift.max(1, Int(seconds.rounded(.up))))
        return fields
    }
}

/// Paths that never need a token: liveness, readiness, Prometheus, the API description.
private let openPaths: Set<String> = ["/health", "/ready", "/metrics", "/openapi.json", "/docs"]

/// A token bucket: `rate` tokens a second, holding at most one second's worth (at least 1).
final class TokenBucket: Sendable {
    private let rate: Double
    private let capacity: Double
    private let state: Mutex<(tokens: Double, at: ContinuousClock.Instant)>

    init(rate: Double) {
        self.rate = rate
        capacity = max(1, rate)
        state = Mutex((max(1, rate), .now))
    }

    /// Takes a token; nil when one was there, otherwise the seconds until one will be.
    func take() -> Double? {
        state.withLock { state in
            let now = ContinuousClock.now
            let elapsed = now - state.at
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            state = (min(capacity, state.tokens + seconds * rate), now)
            guard state.tokens >= 1 else { return (1 - state.tokens) / rate }
            state.tokens -= 1
            return nil
        }
    }
}
