import Foundation

/// A path through three routers built from network namespaces and veth pairs, for traceroute
/// tests: this namespace → r1 → r2 → r3 → target, IPv4 and IPv6. r2 forwards but never
/// answers (what it sends itself goes to a blackhole): its hop is `*`. r3 has an unreachable
/// route for `unreachableAddress`'s subnet. ICMP rate limits are off in the chain. Needs root
/// and iproute2; everything is deleted afterwards (the routes in this namespace go with their
/// interface).
public struct RouterChain: Sendable {
    public let suffix: Int
    /// The routers' addresses facing us, hop by hop (r2's is never seen).
    public let hops: [String]
    public let target: String
    public let hops6: [String]
    public let target6: String
    /// Behind r3, which answers "host unreachable" for it.
    public let unreachableAddress: String

    static let routers = ["r1", "r2", "r3", "dst"]

    init(suffix n: Int) {
        suffix = n
        hops = ["10.210.\(n).2", "10.211.\(n).2", "10.212.\(n).2"]
        target = "10.213.\(n).2"
        hops6 = ["fd00:210:\(n)::2", "fd00:211:\(n)::2", "fd00:212:\(n)::2"]
        target6 = "fd00:213:\(n)::2"
        unreachableAddress = "10.214.\(n).9"
    }

    /// The fixed MAC of side `host` (1 or 2) of link `subnet`.
    func mac(_ subnet: Int, _ host: Int) -> String {
        "02:00:00:" + [suffix, subnet - 200, host].map { String(format: "%02x", $0) }.joined(separator: ":")
    }

    func namespace(_ name: String) -> String { "imn-trace-\(getpid())-\(suffix)-\(name)" }

    /// Runs a command in one of the chain's namespaces (`r1`, `r2`, `r3`, `dst`).
    public func run(in name: String, _ arguments: [String]) throws {
        try NetworkNamespace.ip(["netns", "exec", namespace(name)] + arguments)
    }

    public static func with<T>(_ body: (RouterChain) async throws -> T) async throws -> T {
        let chain = RouterChain(suffix: Int.random(in: 10..<250))
        let cleanUp: @Sendable () -> Void = {
            for name in routers { _ = try? NetworkNamespace.ip(["netns", "del", chain.namespace(name)]) }
            _ = try? NetworkNamespace.ip(["link", "del", "imt\(chain.suffix)210a"])
        }
        defer { cleanUp() }
        try await offload {
            cleanUp()
            try chain.build()
        }
        return try await body(chain)
    }

    private func build() throws {
        let n = suffix
        for name in Self.routers {
            try NetworkNamespace.ip(["netns", "add", namespace(name)])
            try run(in: name, ["ip", "link", "set", "lo", "up"])
            // No duplicate address detection: link-local addresses are usable at once.
            try run(in: name, ["sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"])
        }
        // Link k joins `left` (.1) and `right` (.2) on 10.(210+k).n.0/24 and fd00:(210+k):n::/64.
        let links: [(String?, String)] = [(nil, "r1"), ("r1", "r2"), ("r2", "r3"), ("r3", "dst")]
        for (k, (left, right)) in links.enumerated() {
            let subnet = 210 + k
            let a = "imt\(n)\(subnet)a"
            let b = "imt\(n)\(subnet)b"
            try NetworkNamespace.ip(["link", "add", a, "address", mac(subnet, 1), "type", "veth", "peer", "name", b, "address", mac(subnet, 2)])
            try NetworkNamespace.ip(["link", "set", b, "netns", namespace(right)])
            if let left {
                try NetworkNamespace.ip(["link", "set", a, "netns", namespace(left)])
            } else {
                _ = try runProgram("/usr/bin/env", ["sysctl", "-q", "-w", "net.ipv6.conf.\(a).accept_dad=0"])
            }
            for (side, device, host) in [(left, a, 1), (right, b, 2)] {
                let prefix = side.map { ["netns", "exec", namespace($0), "ip"] } ?? []
                try NetworkNamespace.ip(prefix + ["addr", "add", "10.\(subnet).\(n).\(host)/24", "dev", device])
                try NetworkNamespace.ip(prefix + ["-6", "addr", "add", "fd00:\(subnet):\(n)::\(host)/64", "dev", device, "nodad"])
                try NetworkNamespace.ip(prefix + ["link", "set", device, "up"])
            }
        }
        for router in ["r1", "r2", "r3", "dst"] {
            try run(
                in: router,
                [
                    "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv4.icmp_ratelimit=0",
                    "net.ipv6.icmp.ratelimit=0",
                ])
        }
        // Here: the chain's subnets via r1.
        for subnet in 211...214 {
            try NetworkNamespace.ip(["route", "add", "10.\(subnet).\(n).0/24", "via", "10.210.\(n).2"])
            try NetworkNamespace.ip(["-6", "route", "add", "fd00:\(subnet):\(n)::/64", "via", "fd00:210:\(n)::2"])
        }
        // Each router: towards us via the previous one, onwards via the next.
        let routes: [(String, before: Int?, after: Int?)] = [("r1", nil, 211), ("r2", 211, 212), ("r3", 212, 213), ("dst", 213, nil)]
        for (router, before, after) in routes {
            if let after, router != "r3" {
                try run(in: router, ["ip", "route", "add", "default", "via", "10.\(after).\(n).2"])
                try run(in: router, ["ip", "-6", "route", "add", "default", "via", "fd00:\(after):\(n)::2"])
            }
            if let before {
                for subnet in 210..<before {
                    try run(in: router, ["ip", "route", "add", "10.\(subnet).\(n).0/24", "via", "10.\(before).\(n).1"])
                    try run(in: router, ["ip", "-6", "route", "add", "fd00:\(subnet):\(n)::/64", "via", "fd00:\(before):\(n)::1"])
                }
                if router == "dst" {
                    try run(in: router, ["ip", "route", "add", "default", "via", "10.\(before).\(n).1"])
                    try run(in: router, ["ip", "-6", "route", "add", "default", "via", "fd00:\(before):\(n)::1"])
                }
            }
        }
        try run(in: "r3", ["ip", "route", "add", "unreachable", "10.214.\(n).0/24"])
        // r2 forwards, but whatever it sends itself (its ICMP time exceeded) is dropped.
        try run(in: "r2", ["ip", "route", "add", "blackhole", "default", "table", "100"])
        try run(in: "r2", ["ip", "-6", "route", "add", "blackhole", "default", "table", "100"])
        try run(in: "r2", ["ip", "rule", "add", "iif", "lo", "table", "100", "priority", "100"])
        try run(in: "r2", ["ip", "-6", "rule", "add", "iif", "lo", "table", "100", "priority", "100"])
        // IPv6 finds neighbours with ICMPv6, which r2 no longer sends: its neighbours are fixed.
        for (router, subnet, host) in [("r1", 211, 2), ("r2", 211, 1), ("r2", 212, 2), ("r3", 212, 1)] {
            let device = "imt\(n)\(subnet)\(host == 2 ? "a" : "b")"
            try run(
                in: router,
                ["ip", "-6", "neigh", "add", "fd00:\(subnet):\(n)::\(host)", "lladdr", mac(subnet, host), "dev", device, "nud", "permanent"])
        }
        // Never send a probe unless the chain, not the machine's default route, carries it.
        for address in [target, target6, unreachableAddress] {
            let (status, output) = try runProgram("/usr/bin/env", ["ip", "route", "get", address])
            guard status == 0, output.contains("dev imt\(n)210a") else {
                throw ServerProcessError("the router chain does not carry \(address): \(output)")
            }
        }
    }
}
