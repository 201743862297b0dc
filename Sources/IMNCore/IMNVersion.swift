/// The version every IMN process reports (heartbeats, `GET /`, OTLP resource).
public enum IMNVersion {
    public static let current = "0.1.0"
}
