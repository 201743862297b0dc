/// NATS subjects (DESIGN.md §4), in one place so agents and servers agree.
public enum Subjects {
    /// Agent heartbeats: `imn.hb.<agent>`.
    public static func heartbeat(agent: String) -> String { "imn.hb.\(agent)" }
    public static let allHeartbeats = "imn.hb.*"
    /// Commands to run a module: `imn.cmd.<agent>.<module>` (request/reply).
    public static func command(agent: String, module: String) -> String { "imn.cmd.\(agent).\(module)" }
    /// Module control (load, unload, enable, disable, reload): `imn.ctl.<agent>`.
    public static func control(agent: String) -> String { "imn.ctl.\(agent)" }
    /// Results and state transitions into the `IMN_RESULTS` stream: `imn.res.<agent>.<module>`.
    public static func result(agent: String, module: String) -> String { "imn.res.\(agent).\(module)" }
    public static let allResults = "imn.res.>"
    public static let resultsStream = "IMN_RESULTS"
    /// Live fan-out between server replicas: `imn.live.<kind>`.
    public static func live(kind: String) -> String { "imn.live.\(kind)" }

    /// True when `token` can stand as one subject token: not empty, no spaces, dots or wildcards.
    public static func isValidToken(_ token: String) -> Bool {
        !token.isEmpty
            && token.utf8.allSatisfy { $0 > 0x20 && $0 != UInt8(ascii: ".") && $0 != UInt8(ascii: "*") && $0 != UInt8(ascii: ">") && $0 != 0x7F }
    }

    /// A request id (an `Idempotency-Key`): a subject token of at most 256 bytes.
    public static func isValidRequestID(_ requestID: String) -> Bool {
        isValidToken(requestID) && requestID.utf8.count <= 256
    }
}
