import Testing

@testable import Server

/// The states the ingestion applies, in one batch, to bring a request from what is stored to
/// what a message says.
struct IngestionPathTests {
    @Test func pathsFollowTheFixedOrder() {
        #expect(ResultIngestor.path(from: "created", to: "started") == ["started"])
        #expect(ResultIngestor.path(from: "created", to: "completed") == ["started", "running", "completed"])
        #expect(ResultIngestor.path(from: "started", to: "error") == ["running", "error"])
        #expect(ResultIngestor.path(from: "", to: "running") == ["created", "started", "running"])
        #expect(ResultIngestor.path(from: "running", to: "failed") == ["failed"], "failed may end any state")
        #expect(ResultIngestor.path(from: "", to: "failed") == ["created", "failed"])
    }

    @Test func nothingToDoWhenThereOrPast() {
        #expect(ResultIngestor.path(from: "running", to: "running").isEmpty)
        #expect(ResultIngestor.path(from: "completed", to: "running").isEmpty)
        #expect(ResultIngestor.path(from: "completed", to: "failed").isEmpty)
        #expect(ResultIngestor.path(from: "created", to: "exploded").isEmpty)
    }
}
