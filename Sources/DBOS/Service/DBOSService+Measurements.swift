import Foundation
import GRPCCore

// CreateMeasurement, GetMeasurement, ListMeasurements: a measurement and its runs as one record.
extension DBOSService {
    public func createMeasurement(request: Imn_Dbos_V1_CreateMeasurementRequest, context: ServerContext) async throws
        -> Imn_Dbos_V1_CreateMeasurementResponse
    {
        try await handle("CreateMeasurement") { () throws(DBOSError) in
            let given = request.measurement
            let deadline =
                request.deadlineTaskID.isEmpty
                ? nil
                : DeadlineTask(
                    id: request.deadlineTaskID, dueAtMilliseconds: request.deadlineDueMs, payload: Array(request.deadlinePayload),
                    maxDeliveries: request.deadlineMaxDeliveries == 0 ? 20 : Int(request.deadlineMaxDeliveries))
            let (stored, created, states) = try await store.createMeasurement(
                given.record, deadline: deadline, actor: Self.optional(given.actor) ?? "unknown")
            var response = Imn_Dbos_V1_CreateMeasurementResponse()
            response.measurement = Imn_Dbos_V1_Measurement(stored)
            response.created = created
            response.states = states.map(Imn_Dbos_V1_ModuleState.init)
            return response
        }
    }

    public func getMeasurement(request: Imn_Dbos_V1_GetMeasurementRequest, context: ServerContext) async throws
        -> Imn_Dbos_V1_GetMeasurementResponse
    {
        try await handle("GetMeasurement") { () throws(DBOSError) in
            let (measurement, states, results) = try await store.getMeasurement(id: request.id, withResults: request.withResults)
            var response = Imn_Dbos_V1_GetMeasurementResponse()
            response.measurement = Imn_Dbos_V1_Measurement(measurement)
            response.states = states.map(Imn_Dbos_V1_ModuleState.init)
            response.results = results.map(Imn_Dbos_V1_Result.init)
            return response
        }
    }

    public func listMeasurements(request: Imn_Dbos_V1_ListMeasurementsRequest, context: ServerContext) async throws
        -> Imn_Dbos_V1_ListMeasurementsResponse
    {
        try await handle("ListMeasurements") { () throws(DBOSError) in
            let page = try await store.listMeasurements(limit: Int(request.pageSize), cursor: Self.optional(request.cursor))
            var response = Imn_Dbos_V1_ListMeasurementsResponse()
            response.measurements = page.items.map(Imn_Dbos_V1_Measurement.init)
            response.nextCursor = page.nextCursor ?? ""
            return response
        }
    }
}

extension Imn_Dbos_V1_Measurement {
    init(_ record: MeasurementRecord) {
        self.init()
        id = record.id
        module = record.module
        spec = Data(record.spec)
        runs = record.runs.map { Imn_Dbos_V1_MeasurementRun(requestID: $0.requestID, agentID: $0.agentID) }
        createdMs = record.createdAtMilliseconds
        actor = record.actor
    }

    var record: MeasurementRecord {
        MeasurementRecord(id: id, module: module, spec: Array(spec), runs: runs.map { MeasurementRun(requestID: $0.requestID, agentID: $0.agentID) })
    }
}

extension Imn_Dbos_V1_MeasurementRun {
    public init(requestID: String, agentID: String) {
        self.init()
        self.requestID = requestID
        self.agentID = agentID
    }
}
