import FoundationEssentials
import IMNCore

/// `tcping`: TCP connect time per attempt to `host:port`. Each attempt is classified as ok,
/// refused, timeout or unreachable; the connection is closed at once (no data is sent).
public struct TCPingModule: MeasurementModule {
    public init() {}

    public let spec = ModuleSpec(
        name: "tcping", version: "1.0.0", description: "TCP connect time per attempt to host:port.",
        inputSchema: [
            "type": "object", "required": ["host", "port"], "additionalProperties": false,
            "properties": [
                "host": ["type": "string", "minLength": 1, "maxLength": 253, "description": "Host name or IP address."],
                "port": ["type": "integer", "minimum": 1, "maximum": 65535],
                "count": ["type": "integer", "minimum": 1, "maximum": 100, "default": 4],
                "interval": ["type": "number", "minimum": 0.01, "maximum": 60, "default": 1],
                "timeout": ["type": "number", "minimum": 0.01, "maximum": 60, "default": 2],
            ],
        ],
        outputDescription: "{host, address, port, attempts:[{seq, status, connect_ms}], sent, connected, min_ms, avg_ms, max_ms}",
        maxConcurrency: 16)

    public func run(input: JSONValue, context: ModuleContext) async throws -> JSONValue {
        let host = input["host"]?.stringValue ?? ""
        let port = Int(input["port"]?.numberValue ?? 0)
        let count = Int(input["count"]?.numberValue ?? 4)
        let interval = input["interval"]?.numberValue ?? 1
        let timeout = input["timeout"]?.numberValue ?? 2
        let address = try await ProbeThreads.pool.runIfActive { [policy = context.targetPolicy] in try ResolvedAddress.resolve(host, policy: policy) }
        var attempts: [JSONValue] = []
        var times: [Double] = []
        var rtts: [Duration?] = []
        let started = ContinuousClock.now
        for sequence in 1...count {
            if sequence > 1 { try await Task.sleep(for: .milliseconds(Int64(interval * 1000))) }
            let attempt = try await ProbeThreads.pool.runIfActive { TCPConnect.attempt(address, port: port, timeout: timeout) }
            var entry: [String: JSONValue] = ["seq": .number(Double(sequence)), "status": .string(attempt.status)]
            if let rtt = attempt.rtt {
                entry["connect_ms"] = .number(rtt.milliseconds)
                times.append(rtt.milliseconds)
            }
            rtts.append(attempt.rtt)
            if let detail = attempt.detail { entry["detail"] = .string(detail) }
            attempts.append(.object(entry))
        }
        context.metrics.run(
            module: spec.name, family: address.family, target: "\(host):\(port)", rtts: rtts, duration: ContinuousClock.now - started)
        var output: [String: JSONValue] = [
            "host": .string(host), "address": .string(address.text), "port": .number(Double(port)), "attempts": .array(attempts),
            "sent": .number(Double(count)), "connected": .number(Double(times.count)),
        ]
        if let minimum = times.min(), let maximum = times.max() {
            output["min_ms"] = .number(minimum)
            output["max_ms"] = .number(maximum)
            output["avg_ms"] = .number(times.reduce(0, +) / Double(times.count))
        }
        return .object(output)
    }
}
