import Foundation
import Hummingbird
import Synchronization

/// A REST API token: its secret, what it may do (`read`: GET; `write`: POST and DELETE) and an
/// optional rate limit (requests per second, bursts up to one second's worth).
public struct APIToken: Sendable, Decodable {
    public enum Scope: String, Sendable, Decodable { case read, write }

    public var name: String
    public var token: String
    public var scopes: Set<Scope>
    public var ratePerSecond: Double?

    public init(name: String, token: String, scopes: Set<Scope>, ratePerSecond: Double? = nil) {
        self.name = name
        self.token = token
        self.scopes = scopes
        self.ratePerSecond = ratePerSecond
    }

    enum CodingKeys: String, CodingKey {
        case name, token, scopes, ratePerSecond = "rate_per_second"
    }

    /// Tokens from a JSON file: `[{"name": "ci", "token": "…", "scopes": ["read", "write"], "rate_per_second": 20}]`.
    public static func load(file: String) throws -> [APIToken] {
        let tokens = try JSONDecoder().decode([APIToken].self, from: Data(contentsOf: URL(fileURLWithPath: file)))
        for token in tokens where token.token.utf8.count < 16 {
            throw APITokenError("token \"\(token.name)\" is shorter than 16 characters")
        }
        return tokens
    }

    /// Tokens from `IMN_API_TOKENS`: `name:token:read+write[:rate],…`.
    public static func parse(environment text: String) throws -> [APIToken] {
        try text.split(separator: ",").map { entry in
            let parts = entry.split(separator: ":").map(String.init)
            guard (3...4).contains(parts.count), parts[1].utf8.count >= 16 else {
                throw APITokenError("IMN_API_TOKENS entries are name:token:read+write[:rate], tokens of 16 characters or more")
            }
            var scopes: Set<Scope> = []
            for scope in parts[2].split(separator: "+") {
                guard let parsed = Scope(rawValue: String(scope)) else { throw APITokenError("unknown scope \"\(scope)\" (read, write)") }
                scopes.insert(parsed)
            }
            let rate = parts.count == 4 ? Double(parts[3]) : nil
            if parts.count == 4 && (rate ?? 0) <= 0 { throw APITokenError("the rate of \"\(parts[0])\" must be a positive number") }
            return APIToken(name: parts[0], token: parts[1], scopes: scopes, ratePerSecond: rate)
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
        guard !tokens.isEmpty, !openPaths.contains(request.uri.path) else { return try await next(request, context) }
        let challenge: @Sendable (inout HTTPFields) -> Void = { $0[.wwwAuthenticate] = "Bearer realm=\"imn\"" }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            return Self.problem(.unauthorized, "Authentication required", "send Authorization: Bearer <token>", extra: challenge)
        }
        let presented = Array(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)
        guard let index = tokens.firstIndex(where: { Self.equal(Array($0.token.utf8), presented) }) else {
            return Self.problem(.unauthorized, "Invalid token", "the bearer token is not known", extra: challenge)
        }
        let needed: APIToken.Scope = request.method == .get || request.method == .head ? .read : .write
        guard tokens[index].scopes.contains(needed) else {
            return Self.problem(.forbidden, "Not allowed", "token \"\(tokens[index].name)\" lacks the \(needed.rawValue) scope")
        }
        if let bucket = buckets[index], let wait = bucket.take() {
            let seconds = max(1, Int(wait.rounded(.up)))
            return Self.problem(
                .tooManyRequests, "Rate limit exceeded", "token \"\(tokens[index].name)\" allows \(tokens[index].ratePerSecond ?? 0) requests/s",
                extra: { $0[.retryAfter] = String(seconds) })
        }
        return try await next(request, context)
    }

    /// Compares in time independent of where the bytes differ.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    static func problem(
        _ status: HTTPResponse.Status, _ title: String, _ detail: String, extra: (inout HTTPFields) -> Void = { _ in }
    ) -> Response {
        var response = Problem(status: status, title: title, detail: detail).response
        extra(&response.headers)
        return response
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
