import Agent
import Foundation
import IMNCore
import IMNTestSupport
import Testing

/// The `http` module against a real local HTTP(S) server (`scripts/testbed/http-server.py`,
/// Python's http.server, with a self-signed certificate made by openssl for the TLS cases).
@Suite(.serialized) struct HTTPModuleTests {
    static func run(_ input: JSONValue, policy: TargetPolicy = .anything) async throws -> JSONValue {
        try await ModuleRun.run(HTTPModule(), input, policy: policy)
    }

    /// Starts the test server (TLS with a fresh self-signed certificate for localhost and
    /// 127.0.0.1 when `tls`), runs `body` with its base URL, stops it.
    static func withServer<T>(tls: Bool = false, _ body: (String) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var arguments = [Repository.path("scripts/testbed/http-server.py").path]
        if tls {
            let cert = directory.appendingPathComponent("cert.pem").path
            let key = directory.appendingPathComponent("key.pem").path
            let made = try runProgram(
                "/usr/bin/env",
                [
                    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "30", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                ])
            #expect(made.status == 0, "openssl: \(made.output)")
            arguments += ["--cert", cert, "--key", key]
        }
        let port = FreePort.next()
        let server = ServerProcess(
            name: "http-server", executable: "/usr/bin/python3", port: port, directory: directory, arguments: arguments + ["--port", "\(port)"])
        try await server.start()
        do {
            let result = try await body("\(tls ? "https" : "http")://127.0.0.1:\(port)")
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    @Test func getReportsStatusHeadersBodyAndPhases() async throws {
        try await Self.withServer { base in
            let result = try await Self.run(["url": .string("\(base)/ok")])
            #expect(result["status"] == 200)
            #expect(result["http_version"] == "1.1")
            #expect(result["address"] == "127.0.0.1")
            #expect(result["headers"]?["x-test"] == "yes")
            #expect(result["body"] == "hello from the test server\n")
            #expect(result["body_size"] == 27)
            #expect(result["truncated"] == false)
            #expect(result["tls"] == nil)
            let timings = try #require(result["timings_ms"]?.objectValue)
            for phase in ["resolve", "connect", "request_sent", "first_byte", "download", "total"] { #expect(timings[phase] != nil, "\(phase)") }
            let sum = ["resolve", "connect", "request_sent", "first_byte", "download"].compactMap { timings[$0]?.numberValue }.reduce(0, +)
            #expect(abs(sum - (timings["total"]?.numberValue ?? 0)) < 0.01, "the phases add up to the total")
        }
    }

    @Test func aDelayedFirstByteShowsInTheFirstBytePhase() async throws {
        try await Self.withServer { base in
            let result = try await Self.run(["url": .string("\(base)/delay?ms=300")])
            let timings = try #require(result["timings_ms"]?.objectValue)
            let firstByte = try #require(timings["first_byte"]?.numberValue)
            #expect(firstByte >= 300 && firstByte < 1500, "first byte \(firstByte) ms")
            #expect((timings["connect"]?.numberValue ?? 999) < 100)
            #expect((timings["download"]?.numberValue ?? 999) < 100)
        }
    }

    @Test func headAndOptions() async throws {
        try await Self.withServer { base in
            let head = try await Self.run(["url": .string("\(base)/ok"), "method": "HEAD"])
            #expect(head["status"] == 200)
            #expect(head["body_size"] == 0)
            #expect(head["headers"]?["content-length"] == "27")
            let options = try await Self.run(["url": .string("\(base)/ok"), "method": "OPTIONS", "headers": ["X-Probe": "imn"]])
            #expect(options["status"] == 204)
            #expect(options["headers"]?["allow"] == "GET, HEAD, OPTIONS")
        }
    }

    @Test func tlsWithASelfSignedCertificate() async throws {
        try await Self.withServer(tls: true) { base in
            // Verified by default: a self-signed certificate is a typed TLS error.
            let error = await #expect(throws: ModuleError.self) { try await Self.run(["url": .string("\(base)/ok")]) }
            #expect(error?.message.contains("http tls error") == true, "\(error?.message ?? "")")
            let result = try await Self.run(["url": .string("\(base)/ok"), "insecure": true, "http_version": "2"])
            #expect(result["status"] == 200)
            let tls = try #require(result["tls"])
            #expect(tls["version"]?.stringValue?.hasPrefix("TLSv1.") == true, "\(tls)")
            #expect(tls["cipher"]?.stringValue?.isEmpty == false)
            #expect(tls["verified"] == false)
            #expect(tls["verify_error"]?.stringValue?.contains("self-signed") == true, "\(tls)")
            let leaf = try #require(tls["certificates"]?.arrayValue?.first)
            #expect(leaf["subject"]?.stringValue?.contains("localhost") == true)
            #expect(leaf["names"]?.arrayValue?.contains("localhost") == true, "\(leaf)")
            let daysLeft = try #require(leaf["days_left"]?.numberValue)
            #expect(daysLeft > 29 && daysLeft <= 30)
            #expect((result["timings_ms"]?["tls"]?.numberValue ?? 0) > 0)
        }
    }

    @Test func redirectsAreFollowedHopByHopAndARefusedHopEndsTheRun() async throws {
        try await Self.withServer { base in
            let target = "\(base)/ok".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let notFollowed = try await Self.run(["url": .string("\(base)/redirect?to=\(target)")])
            #expect(notFollowed["status"] == 302)
            #expect(notFollowed["redirects"] == [])
            let followed = try await Self.run(["url": .string("\(base)/redirect?to=\(target)"), "follow_redirects": 3])
            #expect(followed["status"] == 200)
            #expect(followed["url"] == .string("\(base)/ok"))
            #expect(followed["redirects"]?.arrayValue?.count == 1)
            #expect(followed["redirects"]?[0]?["status"] == 302)
            // Allowed: 127.0.0.1 only; the redirect goes to 127.0.0.2, which the policy refuses.
            let port = base.split(separator: ":").last ?? ""
            let elsewhere = "http://127.0.0.2:\(port)/ok".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let error = await #expect(throws: ModuleError.self) {
                try await Self.run(
                    ["url": .string("\(base)/redirect?to=\(elsewhere)"), "follow_redirects": 3], policy: try TargetPolicy(allowing: "127.0.0.1/32"))
            }
            #expect(
                error?.message.contains("refused by the agent's target policy: loopback address (127.0.0.0/8)") == true, "\(error?.message ?? "")")
            let ftp = "ftp://127.0.0.1/file".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let scheme = await #expect(throws: ModuleError.self) {
                try await Self.run(["url": .string("\(base)/redirect?to=\(ftp)"), "follow_redirects": 3])
            }
            #expect(scheme?.message.contains("only http and https are followed") == true, "\(scheme?.message ?? "")")
        }
    }

    @Test func theDefaultPolicyRefusesLoopback() async throws {
        let error = await #expect(throws: ModuleError.self) { try await Self.run(["url": "http://127.0.0.1:9/"], policy: .publicOnly) }
        #expect(error?.message.contains("loopback") == true, "\(error?.message ?? "")")
    }

    @Test func aBodyLargerThanTheCapIsCutAndSaysSo() async throws {
        try await Self.withServer { base in
            let result = try await Self.run(["url": .string("\(base)/big?bytes=200000"), "max_body_bytes": 1000, "body_bytes": 10])
            #expect(result["truncated"] == true)
            #expect(result["body_size"] == 1000)
            #expect(result["body"] == "xxxxxxxxxx")
        }
    }

    @Test func aServerThatNeverAnswersEndsAtTheTimeout() async throws {
        try await Self.withServer { base in
            let started = ContinuousClock.now
            let error = await #expect(throws: ModuleError.self) { try await Self.run(["url": .string("\(base)/hang"), "timeout": 0.5]) }
            #expect(error?.message.contains("timeout") == true, "\(error?.message ?? "")")
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test func resolvePinsTheAddress() async throws {
        try await Self.withServer { base in
            let port = base.split(separator: ":").last ?? ""
            let result = try await Self.run(["url": .string("http://imn-test.invalid:\(port)/ok"), "resolve": "127.0.0.1"])
            #expect(result["status"] == 200)
            #expect(result["address"] == "127.0.0.1")
        }
    }

    @Test func badInputIsATypedError() async throws {
        await #expect(throws: ModuleError.self) { try await Self.run(["url": "ftp://127.0.0.1/"]) }  // the schema's pattern
        await #expect(throws: ModuleError.self) { try await Self.run(["url": "http://127.0.0.1:9/", "headers": ["X-Bad": "a\r\nInjected: 1"]]) }
        await #expect(throws: ModuleError.self) { try await Self.run(["url": "http://127.0.0.1:9/", "headers": ["Bad Name": "x"]]) }
        await #expect(throws: ModuleError.self) { try await Self.run(["url": "http://127.0.0.1:9/", "resolve": "not-an-address"]) }
        let malformed = await #expect(throws: ModuleError.self) { try await Self.run(["url": "http://[zz/"]) }
        #expect(malformed?.message.contains("url") == true, "\(malformed?.message ?? "")")
        let refused = await #expect(throws: ModuleError.self) { try await Self.run(["url": .string("http://127.0.0.1:\(FreePort.next())/")]) }
        #expect(refused?.message.contains("http connect error") == true, "\(refused?.message ?? "")")
    }
}
