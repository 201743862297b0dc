import Foundation

/// A network namespace joined to this one by a veth pair: this side `10.199.<n>.1/24`, the
/// namespace's side `peerAddress` (`10.199.<n>.2`). Needs root and iproute2. Deleted afterwards,
/// whatever happens — except when the process is killed: then `ip netns list` shows the
/// `imn-test-<pid>-<n>` left behind.
public struct NetworkNamespace: Sendable {
    public let name: String
    public let peerAddress: String

    public static var available: Bool { getuid() == 0 && (try? runProgram("/usr/bin/env", ["ip", "-V"]))?.status == 0 }

    /// Runs a command inside the namespace (blocking).
    public func run(_ arguments: String...) throws { try Self.ip(["netns", "exec", name] + arguments) }

    public static func with<T>(_ body: (NetworkNamespace) async throws -> T) async throws -> T {
        let suffix = Int.random(in: 10..<250)
        let name = "imn-test-\(getpid())-\(suffix)"
        let outside = "imnv\(suffix)a"
        let inside = "imnv\(suffix)b"
        let namespace = NetworkNamespace(name: name, peerAddress: "10.199.\(suffix).2")
        // `ip` runs are blocking: off the cooperative pool, as every test's servers share it.
        let cleanUp: @Sendable () -> Void = {
            _ = try? ip(["link", "del", outside])
            _ = try? ip(["netns", "del", name])
        }
        defer { cleanUp() }
        try await offload {
            cleanUp()
            try ip(["netns", "add", name])
            try ip(["link", "add", outside, "type", "veth", "peer", "name", inside])
            try ip(["link", "set", inside, "netns", name])
            try ip(["addr", "add", "10.199.\(suffix).1/24", "dev", outside])
            try ip(["link", "set", outside, "up"])
            try namespace.run("ip", "addr", "add", "\(namespace.peerAddress)/24", "dev", inside)
            try namespace.run("ip", "link", "set", inside, "up")
            try namespace.run("ip", "link", "set", "lo", "up")
        }
        return try await body(namespace)
    }

    static func ip(_ arguments: [String]) throws {
        let (status, output) = try runProgram("/usr/bin/env", ["ip"] + arguments)
        guard status == 0 else { throw ServerProcessError("ip \(arguments.joined(separator: " ")) exited with \(status): \(output)") }
    }
}
