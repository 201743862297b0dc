import Foundation
import IMNCore
import IMNTestSupport
import Testing

@testable import Server

/// A token's limit of measurements in flight: 429 with Retry-After at the limit, room again once
/// its measurements end, and a recount from DBOS when an announcement was missed.
struct TokenConcurrencyTests {
    static let busy = APIToken(name: "busy", token: "busy-token-0123456789", scopes: [.read, .write], maxConcurrentMeasurements: 2)
    static let other = APIToken(name: "other", token: "other-token-0123456789", scopes: [.read, .write])

    static let single = APIToken(name: "single", token: "single-token-0123456789", scopes: [.read, .write], maxConcurrentMeasurements: 1)

    @Test(.enabled(if: ServerBinaries.redisAvailable && ServerBinaries.natsAvailable, "redis-server and nats-server are needed: run scripts/setup"))
    func aTokenAtItsLimitGets429UntilItsMeasurementsEnd() async throws {
        try await EndToEndTests.withStack(tokens: [Self.busy, Self.other, Self.single]) { stack in
            func post(_ key: String, _ token: APIToken, delay: Double, wait: Int? = nil) async throws -> HTTP.Reply {
                try await HTTP.request(
                    "POST", port: stack.port, path: "/agent/agent_1/faulty_module" + (wait.map { "?wait=\($0)" } ?? ""),
                    body: #"{"delay":\#(delay)}"#, headers: ["Authorization": "Bearer \(token.token)", "Idempotency-Key": key])
            }
            // Two long runs fill "busy" (30 s: still running however slow the machine).
            let first = try await post("busy-1", Self.busy, delay: 30)
            let second = try await post("busy-2", Self.busy, delay: 30)
            #expect(first.status == 202 && second.status == 202, "\(first.body) \(second.body)")
            let refused = try await post("busy-3", Self.busy, delay: 0)
            #expect(refused.status == 429, "\(refused.body)")
            #expect(refused.json?["title"] == "Too many measurements in flight")
            #expect(refused.json?["detail"]?.stringValue?.contains("2 measurements") == true, "\(refused.body)")
            #expect(refused.headers.lowercased().contains("retry-after: 1"))
            #expect(refused.headers.lowercased().contains("application/problem+json"))
            #expect(try await post("busy-1", Self.busy, delay: 30).status == 202, "the same request again is not one more")
            #expect(try await post("other-1", Self.other, delay: 0, wait: 10).status == 200, "other tokens are not limited")
            #expect(
                try await HTTP.request("GET", port: stack.port, path: "/agents", headers: ["Authorization": "Bearer \(Self.busy.token)"]).status
                    == 200)

            // "single" may run one at a time: a finished run (answered with ?wait) frees its place at once…
            #expect(try await post("single-1", Self.single, delay: 0, wait: 10).status == 200)
            #expect(try await post("single-2", Self.single, delay: 0, wait: 10).status == 200)
            // …and one that ends unwatched frees it when its end is announced.
            #expect(try await post("single-3", Self.single, delay: 0.5).status == 202)
            let deadline = ContinuousClock.now + .seconds(30)
            var again = try await post("single-4", Self.single, delay: 0, wait: 10)
            while again.status == 429 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                again = try await post("single-4", Self.single, delay: 0, wait: 10)
            }
            #expect(again.status == 200, "\(again.body)")
            #expect(again.json?["state"] == "completed")
        }
    }

    /// The request the 429 refused is not counted, a request that ended is released, and at the
    /// limit the held requests are recounted from their stored states.
    @Test func heldRequestsAreRecountedAtTheLimit() async throws {
        let inFlight = MeasurementsInFlight()
        let stored: [String: ModuleStateName] = ["a": .running, "b": .completed]
        let states: @Sendable ([String]) async -> [String: ModuleStateName] = { ids in stored.filter { ids.contains($0.key) } }
        #expect(try await inFlight.admit("a", token: Self.busy, states: states))
        #expect(try await inFlight.admit("b", token: Self.busy, states: states))
        #expect(try await inFlight.admit("a", token: Self.busy, states: states) == false, "held already")
        // Full: "b" is completed in DBOS (its announcement missed), so "c" takes its place.
        #expect(try await inFlight.admit("c", token: Self.busy, states: states))
        #expect(inFlight.count(token: "busy") == 2)
        // Full again, and "a" and "c" still run (or are unknown): refused.
        await #expect(throws: LedgerError.self) { try await inFlight.admit("d", token: Self.busy, states: states) }
        inFlight.release("c")
        #expect(try await inFlight.admit("d", token: Self.busy, states: states))
        #expect(try await inFlight.admit("x", token: Self.other, states: states) == false, "no limit, not counted")
        #expect(try await inFlight.admit("y", token: nil, states: states) == false, "no token, not counted")
        #expect(inFlight.count(token: "busy") == 2)
    }

    @Test func limitsFromTheEnvironment() throws {
        let tokens = try APIToken.parse(environment: "ci:abcdefghijklmnop:read+write::4,dash:qrstuvwxyz012345:read:2:1")
        #expect(tokens[0].ratePerSecond == nil)
        #expect(tokens[0].maxConcurrentMeasurements == 4)
        #expect(tokens[1].ratePerSecond == 2)
        #expect(tokens[1].maxConcurrentMeasurements == 1)
        #expect(throws: APITokenError.self) { try APIToken.parse(environment: "x:abcdefghijklmnop:write::0") }
        #expect(throws: APITokenError.self) { try APIToken.parse(environment: "x:abcdefghijklmnop:write::many") }
        #expect(throws: APITokenError.self) { try APIToken.parse(environment: "x:abcdefghijklmnop:write:1:2:3") }
    }
}
