import Testing

@testable import Server

/// A read of a request whose `?wait` was answered from JetStream waits for its DBOS writes.
struct IngestionInFlightTests {
    @Test func readWaitsForTheWritesInFlightAndNoLonger() async throws {
        let writes = IngestionInFlight()
        let clock = ContinuousClock()
        var start = clock.now
        await writes.settled("idle")
        #expect(clock.now - start < .milliseconds(50), "nothing in flight: at once")

        writes.begin("run")
        writes.begin("run")  // a redelivery while the first is applied
        let ending = Task {
            try await Task.sleep(for: .milliseconds(100))
            writes.end("run")
            try await Task.sleep(for: .milliseconds(100))
            writes.end("run")
        }
        start = clock.now
        await writes.settled("run")
        #expect(clock.now - start >= .milliseconds(190), "both writes ended")
        // Both ended — unless a loaded machine starved the ending task past the limit (seen in CI).
        #expect(!writes.isWriting("run") || clock.now - start >= IngestionInFlight.readThroughLimit)
        try await ending.value

        writes.begin("stuck")
        start = clock.now
        await writes.settled("stuck")
        #expect(clock.now - start >= IngestionInFlight.readThroughLimit, "a write that never ends holds a read at most the limit")
    }
}
