/// The `# HELP` text of every metric family IMN serves: one home, so that a family added without
/// a description is caught (the metrics tests fail on a `# TYPE` without its `# HELP`).
public enum MetricHelp {
    public static let text: [String: String] = [
        // Every process
        "imn_build_info": "Always 1; labels say the service, the IMN version and the Swift version it was built with.",
        "process_cpu_seconds_total": "User and system CPU time spent by this process, in seconds.",
        "process_resident_memory_bytes": "Resident memory of this process, in bytes.",
        "process_virtual_memory_bytes": "Virtual memory of this process, in bytes.",
        "process_start_time_seconds": "Start time of this process since the Unix epoch, in seconds.",
        "process_open_fds": "Open file descriptors of this process.",
        "process_max_fds": "The most file descriptors this process may open (RLIMIT_NOFILE).",
        "imn_otlp_exported_items_total": "Spans, metric points and log records the OTLP exporter delivered (or printed, for the console exporter).",
        "imn_otlp_dropped_items_total": "Spans, metric points and log records the OTLP exporter gave up on (no collector, errors, timeouts).",
        "imn_otlp_rejected_items_total": "Items the collector refused in a partial success.",
        "imn_otlp_export_requests_total": "OTLP/HTTP requests sent, retries included.",
        "imn_otlp_export_retries_total": "OTLP/HTTP requests that were retried (429, 502, 503, 504, no answer).",
        "imn_otlp_queue_dropped_total": "Spans or log records dropped because the batch queue was full, by signal.",
        // Agent
        "imn_agent_module_runs_total": "Measurement runs by module and outcome (completed, error, failed, rejected).",
        "imn_agent_module_run_duration_seconds": "How long measurement runs took, by module.",
        "imn_agent_heartbeats_sent_total": "Heartbeats this agent published.",
        "imn_agent_outbox_depth": "Results and transitions in the on-disk outbox not yet acknowledged by JetStream.",
        "imn_agent_nats_connected": "1 while the agent is connected to NATS, else 0.",
        "imn_agent_nats_reconnects_total": "Times the agent's NATS connection was re-established.",
        "imn_agent_cpu_ratio": "The host's CPU use, 0 to 1, sampled with each heartbeat.",
        "imn_agent_memory_total_bytes": "The host's memory, in bytes.",
        "imn_agent_memory_used_bytes": "The host's memory in use (total minus available), in bytes.",
        "imn_agent_load_average": "The host's load average, by period (1m, 5m, 15m).",
        "imn_agent_resident_memory_bytes": "Resident memory of the agent process, in bytes.",
        "imn_agent_probe_rtt_seconds": "Round-trip time of each answered probe (ICMP echo or TCP connect), by module, address family and target.",
        "imn_agent_probe_packets_sent_total": "Probes sent (ICMP echoes, TCP connects), by module and target.",
        "imn_agent_probe_packets_received_total": "Probes answered, by module and target.",
        "imn_agent_probe_runs_total": "Probe runs by module, target and result (success: the target answered as the module requires).",
        "imn_agent_probe_loss_ratio": "Share of probes unanswered in the last run, 0 to 1, by module and target.",
        "imn_agent_probe_last_rtt_seconds": "Average round-trip time of the last run's answered probes, by module and target.",
        "imn_probe_success": "1 if the last run of the module against the target succeeded, else 0.",
        "probe_success": "blackbox_exporter's name for imn_probe_success: 1 if the last probe succeeded, else 0.",
        "probe_duration_seconds": "How long the last probe run took, in seconds.",
        "probe_http_status_code": "HTTP status of the last http run's final response.",
        "probe_http_duration_seconds": "Duration of each phase of the last http run (resolve, connect, tls, processing, transfer), in seconds.",
        "probe_ssl_earliest_cert_expiry": "Expiry of the last http run's leaf certificate, seconds since the Unix epoch.",
        "probe_dns_lookup_time_seconds": "Query time of the last dns run, in seconds.",
        "probe_dns_answer_rrs": "Records in the answer section of the last dns run.",
        "probe_dns_authority_rrs": "Records in the authority section of the last dns run.",
        "probe_dns_additional_rrs": "Records in the additional section of the last dns run.",
        "probe_traceroute_hops": "Hops of the last traceroute or mtr run's path.",
        // Server
        "imn_server_http_requests_total": "REST requests by route template, method and status.",
        "imn_server_http_request_duration_seconds": "REST request latency by route template and method.",
        "imn_server_ingested_total": "Agent state transitions stored in DBOS by this server's ingestion, by state.",
        "imn_server_ingestion_lag_seconds": "From an agent's transition to its being stored in DBOS.",
        "imn_server_ingestion_failures_total": "Ingestion attempts that failed and were left for redelivery.",
        "imn_server_requests_expired_total": "Requests failed by their deadline (no result within --stuck-after).",
        "imn_server_schedule_runs_total": "Scheduled measurement runs by outcome.",
        "imn_server_agents": "Agents in the registry, by alive (true, false).",
        "imn_server_heartbeat_lag_seconds": "From an agent sending a heartbeat to the registry holding it (wall clocks).",
        "imn_server_live_clients": "Clients of the live stream (WebSocket and SSE) on this server.",
        "imn_server_live_dropped_total": "Live events dropped from slow clients' queues.",
        "imn_archive_rows_total": "Terminal results this server stored in the ClickHouse archive.",
        "imn_archive_duplicates_skipped_total": "Redelivered results the archive already held, not stored again.",
        "imn_archive_rejected_total": "Results ClickHouse refused one by one (logged with their request id); they are not archived.",
        "imn_archive_failures_total": "Archive batches ClickHouse did not take (down, slow, refusing); offered again after a delay.",
        "imn_archive_lag_seconds": "From a run's end to its batch being stored in the archive (oldest row of each batch).",
        // DBOS
        "imn_dbos_rpcs_total": "DBOS gRPC calls served, by method and status code.",
        "imn_dbos_rpc_duration_seconds": "DBOS gRPC call latency, by method.",
        "imn_dbos_client_calls_total": "DBOS gRPC calls made by this process's client, by method.",
        "imn_dbos_stored_items": "Measurements and module states held in Redis (sampled with each retention sweep).",
        "imn_dbos_redis_memory_bytes": "Redis memory: used, and max (the maxmemory limit, 0 when none), sampled with each retention sweep.",
        "imn_dbos_retention_removed_total": "Measurements, states and results removed by the retention sweep.",
    ]

    /// `exposition` with a `# HELP` line before each `# TYPE` line that has none and whose family is known.
    public static func annotate(_ exposition: String) -> String {
        var lines: [Substring] = []
        var previous: Substring = ""
        for line in exposition.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE "), let name = line.dropFirst(7).split(separator: " ").first, !previous.hasPrefix("# HELP \(name) "),
                let help = text[String(name)]
            {
                lines.append("# HELP \(name) \(help)")
            }
            lines.append(line)
            previous = line
        }
        return lines.joined(separator: "\n")
    }
}
