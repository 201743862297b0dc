import ArgumentParser
import IMNTestSupport
import NATSClient

struct NATSBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nats", abstract: "Publish throughput (128-byte messages) and request/reply round trips on loopback.")

    @Option(help: "Messages to publish.") var messages = 1_000_000
    @Option(help: "Request/reply round trips.") var requests = 20_000

    func run() async throws {
        let messages = self.messages
        let requests = self.requests
        try await withNATSServer { server in
            print("nats-server on port \(server.port)")
            var configuration = NATSConfiguration(url: server.natsURL)
            configuration.name = "bench"
            let connection = try await NATSConnection.connect(configuration)
            let payload = [UInt8](repeating: 0x61, count: 128)
            let immediateRate = try await rate(messages / 4) {
                for _ in 0..<(messages / 4) { try connection.publish("bench.pub", payload: payload) }
                try await connection.flush(timeout: .seconds(60))
            }
            print("publish, 128 B, publishImmediately (default): \(format(immediateRate)) msgs/s")
            var bulkConfiguration = configuration
            bulkConfiguration.publishImmediately = false
            let bulk = try await NATSConnection.connect(bulkConfiguration)
            let bulkRate = try await rate(messages) {
                for _ in 0..<messages { try bulk.publish("bench.pub", payload: payload) }
                try await bulk.flush(timeout: .seconds(60))
            }
            await bulk.close()
            print("publish, 128 B, batched writes:               \(format(bulkRate)) msgs/s")

            let responder = try await NATSConnection.connect(configuration)
            let subscription = try responder.subscribe(to: "bench.echo")
            try await responder.flush()
            let serving = Task {
                for await request in subscription {
                    if let replyTo = request.replyTo { try? responder.publish(replyTo, payload: request.payload) }
                }
            }
            var latencies: [Duration] = []
            latencies.reserveCapacity(requests)
            let sequential = try await rate(requests) {
                let clock = ContinuousClock()
                for _ in 0..<requests {
                    let start = clock.now
                    _ = try await connection.request("bench.echo", payload: payload, timeout: .seconds(5))
                    latencies.append(clock.now - start)
                }
            }
            let (p50, p99) = percentiles(latencies)
            print("request/reply, sequential:                   \(format(sequential)) round trips/s (p50 \(Int(p50)) µs, p99 \(Int(p99)) µs)")
            let concurrency = 16
            let concurrent = try await rate(requests) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<concurrency {
                        group.addTask {
                            for _ in 0..<(requests / concurrency) {
                                _ = try await connection.request("bench.echo", payload: payload, timeout: .seconds(5))
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            print("request/reply, \(concurrency) concurrent:                 \(format(concurrent)) round trips/s")
            serving.cancel()
            subscription.unsubscribe()
            await responder.close()
            await connection.close()
        }
    }
}
