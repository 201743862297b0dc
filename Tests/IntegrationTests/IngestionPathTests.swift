import Testing

@testable import Server

/// The states the ledger applies, in one batch, to bring a run from what is stored to what its
/// agent's message says (a state name that is not one never reaches it: ModuleStateName).
struct IngestionPathTests {
    @Test func pathsFollowTheFixedOrder() {
        #expect(MeasurementLedger.path(from: .created, to: .started) == [.started])
        #expect(MeasurementLedger.path(from: .created, to: .completed) == [.started, .running, .completed])
        #expect(MeasurementLedger.path(from: .started, to: .error) == [.running, .error])
        #expect(MeasurementLedger.path(from: nil, to: .running) == [.created, .started, .running])
        #expect(MeasurementLedger.path(from: .running, to: .failed) == [.failed], "failed may end any state")
        #expect(MeasurementLedger.path(from: nil, to: .failed) == [.created, .failed])
    }

    @Test func nothingToDoWhenThereOrPast() {
        #expect(MeasurementLedger.path(from: .running, to: .running).isEmpty)
        #expect(MeasurementLedger.path(from: .completed, to: .running).isEmpty)
        #expect(MeasurementLedger.path(from: .completed, to: .failed).isEmpty)
    }
}
