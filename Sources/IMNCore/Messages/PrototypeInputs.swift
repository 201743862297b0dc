/// The earlier (Python) prototype's request bodies that IMN names differently. A body using an old
/// name is refused as before (no guessing what it meant), but its 422 says what changed. What the
/// prototype's README sent and IMN still means the same way — `{"message": …}` for echo_module and
/// faulty_module, `{"host", "count"}` for ping_module, `id` as the request id — is accepted as it is.
public enum PrototypeInputs {
    /// Top-level input properties by module ("*": any module), with what to send instead.
    static let changes: [String: [String: String]] = [
        "*": [
            "request_id": "the prototype's request_id is `id` in the body (or the Idempotency-Key header) now"
        ],
        "ping_module": [
            "target": "the prototype's `target` is `host` now",
            "port": "ping_module sends ICMP only; the prototype's TCP fallback to `port` is the tcping module now ({host, port})",
        ],
        "tcping": ["target": "the prototype's `target` is `host` now"],
    ]

    /// `violations` with the message of each one caused by a prototype name saying what changed.
    public static func explained(_ violations: [SchemaViolation], module: String) -> [SchemaViolation] {
        violations.map { violation in
            guard violation.keyword == "additionalProperties", violation.pointer.hasPrefix("/") else { return violation }
            let name = String(violation.pointer.dropFirst())
            guard let change = changes[module]?[name] ?? changes["*"]?[name] else { return violation }
            var explained = violation
            explained.message = "\(violation.message): \(change)"
            return explained
        }
    }
}
