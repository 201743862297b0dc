/// Which agents a selection (or `GET /agents`) asks for: every field given must match, and an
/// agent must carry every tag named. Text fields match without regard to case.
public struct LocationFilter: Sendable, Hashable, Codable {
    public var continent: String?
    public var country: String?
    public var region: String?
    public var city: String?
    public var asn: Int64?
    public var network: String?
    public var tags: [String]

    public init(
        continent: String? = nil, country: String? = nil, region: String? = nil, city: String? = nil, asn: Int64? = nil,
        network: String? = nil, tags: [String] = []
    ) {
        self.continent = continent
        self.country = country
        self.region = region
        self.city = city
        self.asn = asn
        self.network = network
        self.tags = tags
    }

    public static let fieldNames = ["continent", "country", "region", "city", "asn", "network", "tags"]

    public var isEmpty: Bool { self == LocationFilter() }

    public func matches(_ location: AgentLocation?) -> Bool {
        let location = location ?? AgentLocation()
        func same(_ wanted: String?, _ actual: String?) -> Bool {
            guard let wanted else { return true }
            return actual?.lowercased() == wanted.lowercased()
        }
        guard same(continent, location.continent), same(country, location.country), same(region, location.region), same(city, location.city),
            same(network, location.network)
        else { return false }
        if let asn, location.asn != asn { return false }
        return tags.allSatisfy(location.tags.contains)
    }

    /// A filter from a JSON object's fields (a selection's location), checking each: unknown
    /// fields, wrong types, impossible values. `extra` names fields the caller reads itself (limit);
    /// violations point below `pointer`.
    public static func parse(_ fields: [String: JSONValue], pointer: String, extra: Set<String> = []) -> (LocationFilter, [SchemaViolation]) {
        var filter = LocationFilter()
        var errors: [SchemaViolation] = []
        func text(_ name: String) -> String? {
            guard let value = fields[name] else { return nil }
            guard let string = value.stringValue, !string.trimmed.isEmpty else {
                errors.append(SchemaViolation(pointer: "\(pointer)/\(name)", keyword: "type", message: "must be a non-empty string"))
                return nil
            }
            return string.trimmed
        }
        for name in fields.keys.sorted() where !fieldNames.contains(name) && name != "tag" && !extra.contains(name) {
            errors.append(
                SchemaViolation(
                    pointer: "\(pointer)/\(name)", keyword: "additionalProperties",
                    message: "unknown selection key; use \((fieldNames + extra.sorted()).joined(separator: ", "))"))
        }
        filter.continent = text("continent")?.uppercased()
        if let continent = filter.continent, !CountryCodes.continents.contains(continent) {
            errors.append(
                SchemaViolation(
                    pointer: "\(pointer)/continent", keyword: "enum", message: "one of \(CountryCodes.continents.joined(separator: ", "))"))
        }
        filter.country = text("country")?.uppercased()
        if let country = filter.country, CountryCodes.continent(of: country) == nil {
            errors.append(SchemaViolation(pointer: "\(pointer)/country", keyword: "enum", message: "not an ISO 3166-1 alpha-2 code"))
        }
        filter.region = text("region")
        filter.city = text("city")
        filter.network = text("network")
        if let value = fields["asn"] {
            if let number = value.numberValue, number == number.rounded(), (1...Double(AgentLocation.maxASN)).contains(number) {
                filter.asn = Int64(number)
            } else {
                errors.append(SchemaViolation(pointer: "\(pointer)/asn", keyword: "type", message: "an AS number, 1–\(AgentLocation.maxASN)"))
            }
        }
        for name in ["tags", "tag"] {
            guard let value = fields[name] else { continue }
            let tags = value.arrayValue.map { $0.map { $0.stringValue ?? "" } } ?? value.stringValue.map { [$0] } ?? [""]
            for tag in tags where !AgentLocation.isValidTag(tag) {
                errors.append(SchemaViolation(pointer: "\(pointer)/\(name)", keyword: "pattern", message: "tags are lower-case words (a–z, 0–9, -)"))
            }
            filter.tags += tags.filter(AgentLocation.isValidTag)
        }
        return (filter, errors)
    }

    /// What a person reads in an error: `country=DE asn=3320 tags=eyeball`.
    public var summary: String {
        var parts: [String] = []
        for (name, value) in [("continent", continent), ("country", country), ("region", region), ("city", city), ("network", network)] {
            if let value { parts.append("\(name)=\(value)") }
        }
        if let asn { parts.append("asn=\(asn)") }
        if !tags.isEmpty { parts.append("tags=\(tags.joined(separator: ","))") }
        return parts.isEmpty ? "any agent" : parts.joined(separator: " ")
    }
}
