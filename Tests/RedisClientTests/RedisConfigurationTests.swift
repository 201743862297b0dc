import Testing

@testable import RedisClient

@Suite struct RedisConfigurationTests {
    @Test func parsesFullURL() throws {
        let configuration = try RedisConfiguration(url: "redis://imn:s%40cret@redis.example:6380/3")
        #expect(configuration.host == "redis.example")
        #expect(configuration.port == 6380)
        #expect(configuration.user == "imn")
        #expect(configuration.password == "s@cret")
        #expect(configuration.database == 3)
    }

    @Test func parsesPasswordOnlyAndDefaults() throws {
        let configuration = try RedisConfiguration(url: "redis://:pw@localhost")
        #expect(configuration.user == nil)
        #expect(configuration.password == "pw")
        #expect(configuration.port == 6379)
        #expect(configuration.database == 0)
    }

    @Test(arguments: ["http://localhost:6379", "redis://localhost:6379/x", "redis://localhost:6379/-1", "not a url"])
    func rejectsBadURLs(_ url: String) {
        #expect(throws: RedisError.self) { try RedisConfiguration(url: url) }
    }

    @Test func redactsPasswords() {
        let redacted = RedisConfiguration.redacted("redis://imn:secret@host:6379/0")
        #expect(!redacted.contains("secret"))
        #expect(redacted.contains("imn"))
    }

    @Test func scriptNamesMatchRedisSHA1() {
        // Known SHA-1 vectors; Redis names a script by the SHA-1 of its source.
        #expect(RedisScript("abc").sha1 == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(RedisScript("").sha1 == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(RedisScript(String(repeating: "a", count: 1000)).sha1 == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    @Test func backoffDoublesAndCaps() {
        var configuration = RedisConfiguration()
        configuration.reconnectInitialDelay = .milliseconds(50)
        configuration.reconnectMaxDelay = .seconds(1)
        let delays = (1...8).map { RedisConnectionBackoff.delay(failures: $0, configuration) }
        #expect(delays.prefix(5) == [.milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800)])
        #expect(delays.suffix(3).allSatisfy { $0 == .seconds(1) })
    }
}
