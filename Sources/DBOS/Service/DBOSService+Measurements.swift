import Foundation
import GRPCCore

// CreateMeasurement, GetMeasurement, ListMeasurements: a measurement and its runs as one record.
extension DBOSService {
    public func createMeasurement(request: Imn_Dbos_V1_CreateMeasurementRequest, context: ServerContext) async throws
        -> Imn_Dbos_V1_CreateMeasurementResponse
    {
        try await handle("CreateMeasurement") { () throws(DBOSError) in
            let new = Self.newMeasurement(request)
            return Self.createResponse(try await store.createMeasurement(new.record, deadline: new.deadline, actor: new.actor))
        }
    }

    public func createMeasurements(request: Imn_Dbos_V1_CreateMeasurementsRequest, context: ServerContext) async throws
        -> Imn_Dbos_V1_CreateMeasurementsResponse
    {
        try Self.checkBatch(request.items.count)
        let created = await store.createMeasurements(request.items.map { .success(Self.newMeasurement($0)) })
        var response = Imn_Dbos_V1_CreateMeasurementsResponse()
        response.items = answer(created, status: \.status) { $0.response = Self.createResponse($1) }
        return response
    }

    static func newMeasurement(_ request: Imn_Dbos_V1_CreateMeasurementRequest) -> DBOSStore.NewMeasurement {
        let deadline =
            request.deadlineTaskID.isEmpty
            ? nil
            : DeadlineTask(
                id: request.deadlineTaskID, dueAtMilliseconds: request.deadlineDueMs, payload: Array(request.deadlinePayload),
                maxDeliveries: request.deadlineMaxDeliveries == 0 ? 20 : Int(request.deadlineMaxDeliveries))
        return DBOSStore.NewMeasurement(
            record: request.measurement.record, deadline: deadline, actor: optional(request.measurement.actor) ?? "unknown")
    }

    static func createResponse(_ created: DBOSStore.Created) -> Imn_Dbos_V1_CreateMeasurementResponse {
        var response = Imn_Dbos_V1_CreateMeasurementResponse()
        response.measurement = Imn_Dbos_V1_Measurement(created.measurement)
        response.created = created.created
        response.states = created.states.map(Imn_Dbos_V1_ModuleState.init)
        return response
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
