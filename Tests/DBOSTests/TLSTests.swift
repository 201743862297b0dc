import DBOS
import Foundation
import GRPCCore
import IMNTestSupport
import Logging
import Testing

/// DBOS with TLS on its gRPC port: a client trusting its CA is served; a plaintext client and a
/// client trusting only the system's roots are not.
@Suite(
    .enabled(if: ServerBinaries.redisAvailable, "redis-server is not installed: run scripts/setup"),
    .enabled(if: ServerBinaries.find("openssl") != nil, "openssl is needed to make a test certificate"))
struct TLSTests {
    @Test func servesOnlyClientsThatTrustItsCertificate() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imn-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let made = try runProgram(
            try #require(ServerBinaries.find("openssl")),
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ])
        #expect(made.status == 0, "\(made.output)")

        try await withRedisServer { redis in
            try await withDBOS(redis: redis, configure: { $0.tls = DBOSTLS.Server(certificateChainPath: certificate, privateKeyPath: key) }) {
                _, server in
                let address = "localhost:\(try await server.listeningPort())"
                func served(_ tls: DBOSTLS.Client?) async throws -> Bool {
                    let client = try DBOSClient(address: address, timeout: .seconds(3), tls: tls)
                    let connections = Task { try await client.run() }
                    var get = Imn_Dbos_V1_GetResultRequest()
                    get.requestID = "none"
                    var options = client.options(idempotent: false)
                    options.timeout = .seconds(3)
                    let code = await rpcCode { _ = try await client.dbos.getResult(get, options: options) }
                    await stop(client, connections)  // no reconnection left running when DBOS stops
                    return code == .notFound
                }
                // Eventually: on a loaded machine DBOS may still be connecting to Redis.
                let trusted = await eventually(timeout: .seconds(30)) { (try? await served(DBOSTLS.Client(trustRootsPath: certificate))) == true }
                #expect(trusted, "a client trusting the certificate is served")
                #expect(try await !served(nil), "a plaintext client is not")
                #expect(try await !served(DBOSTLS.Client()), "a client trusting only the system's roots is not")
            }
        }
    }
}
