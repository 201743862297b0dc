import FoundationEssentials
import IMNCore

/// `heartbeat_module`: the agent host's CPU, memory, load, disk and network counters from /proc.
struct HeartbeatModule: MeasurementModule {
    let spec = ModuleSpec(
        name: "heartbeat_module", version: "1.0.0", description: "System figures of the agent's host from /proc.",
        inputSchema: [
            "type": "object", "additionalProperties": false,
            "properties": [
                "sample_seconds": [
                    "type": "number", "minimum": 0.05, "maximum": 10, "default": 0.25, "description": "Window over which CPU use is measured.",
                ]
            ],
        ],
        outputDescription:
            "{cpu_percent, memory_total_bytes, memory_available_bytes, load_1m/5m/15m, disk_total_bytes, disk_free_bytes, network{iface:{rx_bytes,tx_bytes}}}",
        maxConcurrency: 4)

    func run(input: JSONValue, context: ModuleContext) async throws -> JSONValue {
        let window = SystemStats()
        _ = window.sample()
        try await Task.sleep(for: .milliseconds(Int64((input["sample_seconds"]?.numberValue ?? 0.25) * 1000)))
        return window.sample().json
    }
}
