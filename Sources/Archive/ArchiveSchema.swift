/// The archive's one table: a row per terminal run, ordered for the history queries (module,
/// target, time). `ReplacingMergeTree` keyed by that order and the request id folds a row
/// stored twice (possible only in the window `ResultArchiver` describes) when parts merge.
///
/// Written for what ClickHouse 18.16 (Debian 12's `clickhouse-server`) and current releases
/// both accept: the classic engine syntax, `DateTime` seconds beside `time_ms`, no
/// `LowCardinality` or `DateTime64`.
public enum ArchiveSchema {
    public static let table = "results"

    public static func createDatabase(_ database: String) -> String { "CREATE DATABASE IF NOT EXISTS \(database)" }

    public static func createTable(_ database: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(database).\(table) (
            request_id String,
            agent_id String,
            module String,
            module_version String,
            state String,
            target String,
            address String,
            time DateTime,
            time_ms UInt64,
            duration_ms Nullable(Float64),
            continent String,
            country String,
            region String,
            city String,
            latitude Nullable(Float64),
            longitude Nullable(Float64),
            asn UInt32,
            network String,
            tags Array(String),
            sent UInt32,
            received UInt32,
            rtts Array(Float64),
            hops UInt16,
            reached UInt8,
            http_status UInt16,
            resolve_ms Nullable(Float64),
            connect_ms Nullable(Float64),
            tls_ms Nullable(Float64),
            first_byte_ms Nullable(Float64),
            total_ms Nullable(Float64),
            error String,
            output String
        ) ENGINE = ReplacingMergeTree()
        PARTITION BY toYYYYMM(time)
        ORDER BY (module, target, time, request_id)
        """
    }
}
