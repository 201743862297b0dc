import CommandLineSupport
import Testing

/// IMN's environment names, and the earlier prototype's as aliases that IMN's own names beat.
struct EnvironmentSettingsTests {
    @Test func imnNamesWinOverThePrototypes() throws {
        let settings = EnvironmentSettings(environment: [
            "IMN_NATS_URL": "nats://a:4222", "NATS_URL": "nats://b:4222", "IMN_REDIS_URL": "redis://r:1", "REDIS_ADDR": "x:2",
            "IMN_DBOS_ADDRESS": "d:1", "DBOS_ADDRESS": "e:2", "IMN_AGENT_NAME": "own", "AGENT_NAME": "old", "IMN_PORT": "81", "PORT": "82",
        ])
        #expect(settings.natsURL == "nats://a:4222")
        #expect(settings.redisURL == "redis://r:1")
        #expect(settings.dbosAddress == "d:1")
        #expect(settings.agentName == "own")
        #expect(try settings.port() == 81)
    }

    @Test func prototypeNamesAlone() throws {
        let settings = EnvironmentSettings(environment: [
            "NATS_URL": #"["nats://nats-server:4222", 'nats://other:4222']"#, "REDIS_ADDR": "redis:6379", "DBOS_ADDRESS": "dbos:50051",
            "AGENT_NAME": "aiori_1", "PORT": "50051",
        ])
        #expect(settings.natsURL == "nats://nats-server:4222,nats://other:4222")
        #expect(settings.redisURL == "redis://redis:6379")
        #expect(settings.dbosAddress == "dbos:50051")
        #expect(settings.agentName == "aiori_1")
        #expect(try settings.port() == 50051)
    }

    @Test func redisPortReplacesOrAddsThePort() {
        #expect(EnvironmentSettings(environment: ["REDIS_ADDR": "cache:6379", "REDIS_PORT": "6380"]).redisURL == "redis://cache:6380")
        #expect(EnvironmentSettings(environment: ["REDIS_ADDR": "cache", "REDIS_PORT": "6380"]).redisURL == "redis://cache:6380")
        #expect(EnvironmentSettings(environment: ["REDIS_PORT": "6380"]).redisURL == "redis://127.0.0.1:6380")
        #expect(EnvironmentSettings(environment: ["REDIS_ADDR": "redis://u:p@h:1/2"]).redisURL == "redis://u:p@h:1/2")
    }

    @Test func emptyIsUnsetAndABadPortIsAnError() {
        let settings = EnvironmentSettings(environment: ["IMN_NATS_URL": " ", "NATS_URL": "[]", "PORT": "http"])
        #expect(settings.natsURL == nil)
        #expect(settings.redisURL == nil && settings.agentName == nil)
        #expect(throws: EnvironmentSettingError.self) { try settings.port() }
        #expect(throws: EnvironmentSettingError.self) { try EnvironmentSettings(environment: ["IMN_PORT": "70000"]).port() }
    }
}
