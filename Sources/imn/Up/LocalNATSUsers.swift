import Foundation
import IMNCore

/// The local stack's NATS users (NATSAccess): `server`, and one per agent confined to its own
/// subjects. Passwords are made once and kept in `<data>/nats-credentials.json` (mode 0600);
/// `<data>/nats.conf`, which nats-server reads, is written again at each start.
struct LocalNATSUsers: Codable {
    var server: String
    var agents: [String: String]

    static func loadOrCreate(in data: URL, agents names: [String]) throws -> LocalNATSUsers {
        let file = data.appendingPathComponent("nats-credentials.json")
        var users =
            (try? JSONDecoder().decode(LocalNATSUsers.self, from: Data(contentsOf: file))) ?? LocalNATSUsers(server: password(), agents: [:])
        for name in names where users.agents[name] == nil { users.agents[name] = password() }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(users).write(to: file, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        return users
    }

    var access: NATSAccess {
        NATSAccess(
            server: .init(name: "server", password: server),
            agents: agents.sorted { $0.key < $1.key }.map { .init(name: $0.key, password: $0.value) })
    }

    func writeConfiguration(to file: URL) throws {
        let text = "# Written by imn up at each start from nats-credentials.json; edits are lost.\n" + access.configuration
        try Data(text.utf8).write(to: file, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
    }

    /// The URL `user` connects with (passwords are letters and digits: nothing to escape).
    func url(user: String, port: Int) -> String {
        let password = user == "server" ? server : agents[user] ?? ""
        return "nats://\(user):\(password)@127.0.0.1:\(port)"
    }

    static func password() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<24).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}
