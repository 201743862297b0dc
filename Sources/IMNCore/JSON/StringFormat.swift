import FoundationEssentials
import Glibc

/// The `format` values modules use for targets.
enum StringFormat {
    static func matches(_ string: String, format: String) -> Bool {
        switch format {
        case "ipv4": isIPv4(string)
        case "ipv6": isIPv6(string)
        case "hostname": isHostname(string)
        case "uri": isURI(string)
        default: true  // unknown formats are annotations (and reported at registration)
        }
    }

    static func isIPv4(_ string: String) -> Bool {
        var address = in_addr()
        return string.split(separator: ".", omittingEmptySubsequences: false).count == 4 && inet_pton(AF_INET, string, &address) == 1
    }

    static func isIPv6(_ string: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, string, &address) == 1
    }

    /// RFC 1123 host names: labels of 1–63 letters, digits and hyphens, not starting or ending
    /// with a hyphen, 253 characters in all.
    static func isHostname(_ string: String) -> Bool {
        let name = string.hasSuffix(".") ? String(string.dropLast()) : string
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-" else { return false }
            return label.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D
            }
        }
    }

    static func isURI(_ string: String) -> Bool {
        guard let components = URLComponents(string: string), let scheme = components.scheme, !scheme.isEmpty else { return false }
        return scheme.first?.isLetter == true && !string.contains(" ")
    }
}
