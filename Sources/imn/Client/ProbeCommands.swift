import ArgumentParser
import Client
import IMNCore

// `imn ping TARGET`, `imn tcping HOST[:PORT]`, … — `imn run MODULE` with the target as the
// module's main input and the same options.

private let shorthandFooter = "\n\n" + ClientExitStatus.help

/// A shorthand: `module` run with the target as its `targetKey` input.
protocol ProbeShorthand: ParsableCommand {
    static var module: String { get }
    static var targetKey: String { get }
    var target: String { get }
    var input: [String] { get }
    var who: RunOptions { get }
    var options: ClientOptions { get }
}

extension ProbeShorthand {
    static var targetKey: String { "host" }

    func run() throws { try who.measure(module: Self.module, words: input, fixed: [Self.targetKey: .string(target)], options: options) }
}

struct PingCommand: ProbeShorthand {
    static let configuration = CommandConfiguration(
        commandName: "ping", abstract: "ICMP echo from one or many agents: RTT min/avg/max and loss per agent.",
        discussion: """
            Examples:
              imn ping 1.1.1.1
              imn ping example.com count=10 interval=0.2 --from DE,US
              imn ping 127.0.0.1 --agent agent_1 --json
            """ + shorthandFooter)
    @Argument(help: "Host name or address.") var target: String
    @Argument(help: "More input as key=value: count, interval, size, timeout.") var input: [String] = []
    @OptionGroup var who: RunOptions
    @OptionGroup var options: ClientOptions
    static let module = "ping_module"
}

struct TCPingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tcping", abstract: "TCP connect times from one or many agents: min/avg/max and failures per agent.",
        discussion: """
            Examples:
              imn tcping example.com:443
              imn tcping [2001:db8::1]:22 count=5 --from datacenter
              imn tcping example.com port=80 --agent agent_2
            """ + shorthandFooter)
    @Argument(help: "host:port ([v6]:port), or the host with port=N.") var target: String
    @Argument(help: "More input as key=value: port, count, interval, timeout.") var input: [String] = []
    @OptionGroup var who: RunOptions
    @OptionGroup var options: ClientOptions
    func run() throws {
        var fixed: [String: JSONValue] = ["host": .string(target)]
        if let (host, port) = Self.split(target) { fixed = ["host": .string(host), "port": .number(Double(port))] }
        try who.measure(module: "tcping", words: input, fixed: fixed, options: options)
    }

    /// "example.com:443" or "[::1]:22" → host and port; nil when there is no port.
    static func split(_ target: String) -> (String, Int)? {
        if target.hasPrefix("["), let close = target.firstIndex(of: "]") {
            let rest = target[target.index(after: close)...]
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()) else { return nil }
            return (String(target[target.index(after: target.startIndex)..<close]), port)
        }
        let parts = target.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { return nil }
        return (String(parts[0]), port)
    }
}

struct TracerouteCommand: ProbeShorthand {
    static let configuration = CommandConfiguration(
        commandName: "traceroute", abstract: "The path from one or many agents (ICMP, UDP or TCP SYN), hop by hop.",
        discussion: """
            Examples:
              imn traceroute example.com
              imn traceroute 2001:db8::1 protocol=tcp port=443 --from EU
            """ + shorthandFooter)
    @Argument(help: "Host name or address.") var target: String
    @Argument(help: "More input as key=value: protocol, port, first_ttl, max_ttl, probes_per_hop, wait, in_flight.") var input: [String] = []
    @OptionGroup var who: RunOptions
    @OptionGroup var options: ClientOptions
    static let module = "traceroute"
}

struct MTRCommand: ProbeShorthand {
    static let configuration = CommandConfiguration(
        commandName: "mtr", abstract: "Rounds over the path from one or many agents: per-hop loss and last/avg/best/worst/stdev.",
        discussion: """
            Examples:
              imn mtr example.com count=10
              imn mtr 1.1.1.1 protocol=udp --agent agent_1
            """ + shorthandFooter)
    @Argument(help: "Host name or address.") var target: String
    @Argument(help: "More input as key=value: count, interval, protocol, port, max_ttl, timeout.") var input: [String] = []
    @OptionGroup var who: RunOptions
    @OptionGroup var options: ClientOptions
    static let module = "mtr"
}

struct DNSCommand: ProbeShorthand {
    static let configuration = CommandConfiguration(
        commandName: "dns", abstract: "A DNS query from one or many agents: rcode, answers and query time.",
        discussion: """
            Examples:
              imn dns example.com
              imn dns example.com type=AAAA resolver=9.9.9.9 --from DE,US
              imn dns example.org type=DNSKEY dnssec_ok=true protocol=tcp
            """ + shorthandFooter)
    @Argument(help: "The name to ask about.") var target: String
    @Argument(help: "More input as key=value: type, class, resolver, protocol, recursion_desired, dnssec_ok, timeout, retries.")
    var input: [String] = []
    @OptionGroup var who: RunOptions
    @OptionGroup var options: ClientOptions
    static let module = "dns"
    static let targetKey = "name"
}

struct HTTPCommand: ProbeShorthand {
    static let configuration = CommandConfiguration(
        commandName: "http", abstract: "An HTTP(S) request from one or many agents: status and timing phases.",
        discussion: """
            Examples:
              imn http https://example.com/
              imn http https://example.com/ method=HEAD http_version=2 --from US
              imn http http://10.0.0.1/ headers:='{"Host":"example.com"}'
            """ + shorthandFooter)
    @Argument(help: "The URL.") var target: String
    @Argument(help: "More input as key=value: method, headers, http_version, resolve, follow_redirects, timeout, insecure.")
    var input: [String] = []
    @OptionGroup var who: RunOptions
    @OptionGroup var options: ClientOptions
    static let module = "http"
    static let targetKey = "url"
}

struct EchoCommand: ProbeShorthand {
    static let configuration = CommandConfiguration(
        commandName: "echo", abstract: "Ask agents to echo a message: the quickest check that the whole path works.",
        discussion: """
            Examples:
              imn echo hello
              imn echo hello --from DE,US
            """ + shorthandFooter)
    @Argument(help: "The message.") var target: String
    @OptionGroup var who: RunOptions
    @OptionGroup var options: ClientOptions
    static let module = "echo_module"
    static let targetKey = "message"
    var input: [String] { [] }
}
