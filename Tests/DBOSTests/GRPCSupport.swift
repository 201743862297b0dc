import DBOS
import Foundation
import GRPCCore
import IMNTestSupport
import Logging
import RedisClient

/// A DBOSServer on a free loopback port over a real redis-server, and a DBOSClient to it.
///
/// A server that fails to listen (once seen on a loaded CI machine, with no cause reported) is
/// started again on another port, up to three times; the last failure names what `run()` threw.
func withDBOS<T: Sendable>(
    redis server: ServerProcess, configure: (inout DBOSServer.Configuration) -> Void = { _ in },
    _ body: (DBOSClient, DBOSServer) async throws -> T
) async throws -> T {
    var attempt = 0
    while true {
        attempt += 1
        var configuration = DBOSServer.Configuration()
        configuration.port = FreePort.next()
        configuration.redis = try RedisConfiguration(url: server.redisURL)
        configuration.redis.connectWait = .seconds(10)
        configuration.healthInterval = .milliseconds(100)
        configure(&configuration)
        let dbos = DBOSServer(configuration: configuration, logger: Logger(label: "test.dbos"))
        let serving = Task { try await dbos.run() }
        let port: Int
        do {
            port = try await dbos.listeningPort()
        } catch {
            serving.cancel()
            let ran = await serving.result
            guard attempt < 3 else { throw DBOSStartError(listening: "\(error)", run: "\(ran)") }
            continue
        }
        // A generous deadline: these tests check semantics, and a loaded two-core CI machine can stall.
        let client = try DBOSClient(address: "127.0.0.1:\(port)", timeout: .seconds(20))
        let connections = Task { try await client.run() }
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await body(client, dbos))
        } catch {
            outcome = .failure(error)
        }
        // The client has stopped connecting before DBOS stops: a connection accepted while a
        // TLS server shuts down crashed the test process once (NIOAsyncWriter deinit, in NIO).
        await stop(client, connections)
        serving.cancel()
        return try outcome.get()
    }
}

/// Closes `client` and waits until its connections have ended — cancelled after 5 s at most.
func stop(_ client: DBOSClient, _ connections: Task<Void, any Error>) async {
    client.close()
    let deadline = Task {
        try? await Task.sleep(for: .seconds(5))
        connections.cancel()
    }
    _ = await connections.result
    deadline.cancel()
}

struct DBOSStartError: Error, CustomStringConvertible {
    var listening: String
    var run: String
    var description: String { "DBOS did not listen three times; last: \(listening); run() ended with \(run)" }
}

/// The gRPC status code of what `body` threw, or nil when it did not throw.
func rpcCode(_ body: () async throws -> Void) async -> RPCError.Code? {
    do {
        try await body()
        return nil
    } catch let error as RPCError {
        return error.code
    } catch {
        return .unknown
    }
}

extension Imn_Dbos_V1_SetModuleStateRequest {
    static func make(_ request: String, _ state: String, version: Int64, agent: String = "agent_1", module: String = "echo_module") -> Self {
        var message = Self()
        message.requestID = request
        message.agentID = agent
        message.module = module
        message.state = state
        message.expectedVersion = version
        message.actor = "test"
        return message
    }
}

extension Imn_Dbos_V1_StoreResultRequest {
    static func make(_ request: String, payload: String = "{}", status: String = "completed", agent: String = "agent_1") -> Self {
        var message = Self()
        message.result.requestID = request
        message.result.agentID = agent
        message.result.module = "echo_module"
        message.result.status = status
        message.result.payload = Data(payload.utf8)
        message.result.metadata.ingestSource = "test"
        return message
    }
}
