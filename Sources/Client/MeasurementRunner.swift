import Foundation
import IMNCore

/// Starts a measurement and follows it: `POST /measurements`, then `GET /measurements/{id}` until
/// every run is terminal or the wait is over, telling `progress` how far it got.
public struct MeasurementRunner {
    let client: APIClient

    public init(client: APIClient) { self.client = client }

    /// The measurement as the server last described it.
    public func run(_ body: JSONValue, wait: Duration?, progress: (String) -> Void) throws(ClientError) -> JSONValue {
        let accepted = try client.post("/measurements", json: body)
        guard let measurement = accepted.json, let id = measurement["id"]?.stringValue else {
            throw .badAnswer("POST /measurements answered \(accepted.status) without a measurement id")
        }
        guard let wait else { return measurement }
        return try follow(id, first: measurement, wait: wait, progress: progress)
    }

    public func follow(_ id: String, first: JSONValue, wait: Duration, progress: (String) -> Void) throws(ClientError) -> JSONValue {
        let clock = ContinuousClock()
        let start = clock.now
        var current = first
        var pause = Duration.milliseconds(100)
        while current["status"]?.stringValue != "finished" {
            let elapsed = clock.now - start
            progress(Self.progressLine(current, elapsed: elapsed))
            if elapsed >= wait { break }
            Thread.sleep(forTimeInterval: min(pause, wait - elapsed).inSeconds)
            pause = min(pause * 2, .seconds(1))
            current = try read(id)
        }
        return current
    }

    /// The measurement as stored now; a server restarting meanwhile is tried again for a few seconds
    /// (the measurement goes on without us).
    func read(_ id: String) throws(ClientError) -> JSONValue {
        var attempt = 0
        while true {
            do throws(ClientError) {
                guard let measurement = try client.get("/measurements/\(id)").json else { throw .badAnswer("GET /measurements/\(id) is not JSON") }
                return measurement
            } catch .unreachable(let server, let reason) {
                attempt += 1
                guard attempt < 5 else { throw .unreachable(server, reason) }
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }

    /// "2 of 5 runs done (1 running) — 1.4 s".
    static func progressLine(_ measurement: JSONValue, elapsed: Duration) -> String {
        let runs = measurement["runs"]?.arrayValue ?? []
        let done = runs.filter { ["completed", "error", "failed", "offline"].contains($0["state"]?.stringValue ?? "") }.count
        return "\(done) of \(runs.count) run\(runs.count == 1 ? "" : "s") done — " + String(format: "%.1f s", elapsed.inSeconds)
    }
}

extension Duration {
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
