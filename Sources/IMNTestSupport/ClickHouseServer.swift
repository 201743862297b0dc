import Foundation

/// A real `clickhouse-server` on free loopback ports (HTTP and native), its data in a temporary
/// folder, the `default` user without a password.
public func withClickHouseServer<T>(_ body: (ServerProcess) async throws -> T) async throws -> T {
    try await withServer(try ServerProcess.clickHouseServer(), body)
}

extension ServerProcess {
    /// A `clickhouse-server` whose HTTP interface is on `port`, not started yet.
    public static func clickHouseServer() throws -> ServerProcess {
        guard let executable = ServerBinaries.clickHouseServer else { throw ServerProcessError("clickhouse-server is not installed") }
        let port = FreePort.next()
        let directory = try ServerProcess.makeDirectory("clickhouse")
        let path = directory.path
        // The XML root is <yandex> for 18.16 (Debian 12); current releases accept it too.
        let config = """
            <?xml version="1.0"?>
            <yandex>
                <logger><level>warning</level><console>1</console></logger>
                <http_port>\(port)</http_port>
                <tcp_port>\(FreePort.next())</tcp_port>
                <listen_host>127.0.0.1</listen_host>
                <path>\(path)/data/</path>
                <tmp_path>\(path)/tmp/</tmp_path>
                <user_files_path>\(path)/user_files/</user_files_path>
                <format_schema_path>\(path)/format_schemas/</format_schema_path>
                <users_config>\(path)/users.xml</users_config>
                <default_profile>default</default_profile>
                <default_database>default</default_database>
                <mark_cache_size>268435456</mark_cache_size>
            </yandex>
            """
        let users = """
            <?xml version="1.0"?>
            <yandex>
                <profiles><default></default></profiles>
                <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
                <quotas><default></default></quotas>
            </yandex>
            """
        try config.write(to: directory.appendingPathComponent("config.xml"), atomically: true, encoding: .utf8)
        try users.write(to: directory.appendingPathComponent("users.xml"), atomically: true, encoding: .utf8)
        return ServerProcess(
            name: "clickhouse-server", executable: executable, port: port, directory: directory,
            arguments: ["--config-file=\(path)/config.xml"])
    }

    public var clickHouseURL: String { "http://127.0.0.1:\(port)" }
}
