import Archive
import Foundation
import Hummingbird
import IMNCore

extension MeasurementAPI {
    /// GET /history: aggregates of archived runs (`HistoryQuery` says which parameters and
    /// bounds); 501 when the archive is off, 503 when ClickHouse does not answer.
    func history(query: [String: String]) async throws -> Response {
        guard let history else {
            throw Problem(
                status: .notImplemented, title: "No archive",
                detail:
                    "history is read from the ClickHouse archive, which is off: start imn server with --clickhouse-url http://HOST:8123 "
                    + "(or IMN_CLICKHOUSE_URL); compose.yaml runs ClickHouse and turns it on")
        }
        let parsed: HistoryQuery
        do {
            parsed = try HistoryQuery(query, now: Int64(Date().timeIntervalSince1970))
        } catch {
            throw Problem(status: .unprocessableContent, title: "Invalid history query", detail: error.description)
        }
        do {
            let rows = try ClickHouseClient.rows(try await history.execute(parsed.sql, settings: HistoryQuery.settings, timeout: .seconds(35)))
            return Problem.json(try parsed.answer(rows))
        } catch let error as HistoryQuery.Invalid {
            throw Problem(status: .unprocessableContent, title: "History query too large", detail: error.description)
        } catch let error as ClickHouseError {
            switch error.code {
            case 396:  // TOO_MANY_ROWS_OR_BYTES: the result-row bound
                throw Problem(
                    status: .unprocessableContent, title: "History query too large",
                    detail: "too many steps × groups; narrow the range, the filters or the grouping")
            case 159:  // TIMEOUT_EXCEEDED
                throw Problem(
                    status: .gatewayTimeout, title: "History query too slow",
                    detail: "ClickHouse stopped the query after 30 s; narrow the range or the filters")
            default:
                throw Problem(status: .serviceUnavailable, title: "Archive unavailable", detail: error.description, headers: [.retryAfter: "5"])
            }
        }
    }
}
