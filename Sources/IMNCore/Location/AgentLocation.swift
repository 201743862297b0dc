/// Where an agent measures from, as it declares itself: carried in every heartbeat, stored with
/// the agent in DBOS, and what measurements select agents by (``LocationFilter``).
public struct AgentLocation: Sendable, Hashable, Codable {
    /// AF, AN, AS, EU, NA, OC or SA; worked out from `country` when not given.
    public var continent: String?
    /// ISO 3166-1 alpha-2, upper case.
    public var country: String?
    public var region: String?
    public var city: String?
    public var latitude: Double?
    public var longitude: Double?
    /// The autonomous system the agent's address belongs to, 1–4294967294.
    public var asn: Int64?
    /// The operator's name, e.g. "Deutsche Telekom".
    public var network: String?
    /// Lower-case words: letters, digits and inner hyphens, e.g. `eyeball`, `aws-eu-west-1`.
    public var tags: [String]

    public init(
        continent: String? = nil, country: String? = nil, region: String? = nil, city: String? = nil, latitude: Double? = nil,
        longitude: Double? = nil, asn: Int64? = nil, network: String? = nil, tags: [String] = []
    ) {
        self.continent = continent
        self.country = country
        self.region = region
        self.city = city
        self.latitude = latitude
        self.longitude = longitude
        self.asn = asn
        self.network = network
        self.tags = tags
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        continent = try container.decodeIfPresent(String.self, forKey: .continent)
        country = try container.decodeIfPresent(String.self, forKey: .country)
        region = try container.decodeIfPresent(String.self, forKey: .region)
        city = try container.decodeIfPresent(String.self, forKey: .city)
        latitude = try container.decodeIfPresent(Double.self, forKey: .latitude)
        longitude = try container.decodeIfPresent(Double.self, forKey: .longitude)
        asn = try container.decodeIfPresent(Int64.self, forKey: .asn)
        network = try container.decodeIfPresent(String.self, forKey: .network)
        tags = try container.decodeIfPresent([String].self, forKey: .tags) ?? []
    }

    public var isEmpty: Bool { self == AgentLocation() }

    /// As JSON, the fields given only (what encoding it gives, without an encoder).
    public var json: JSONValue {
        var object: [String: JSONValue] = [:]
        for (name, value) in [("continent", continent), ("country", country), ("region", region), ("city", city), ("network", network)] {
            if let value { object[name] = .string(value) }
        }
        if let latitude { object["latitude"] = .number(latitude) }
        if let longitude { object["longitude"] = .number(longitude) }
        if let asn { object["asn"] = .number(Double(asn)) }
        object["tags"] = .array(tags.map(JSONValue.string))
        return .object(object)
    }

    static let maxASN: Int64 = 4_294_967_294
    static let maxTags = 32
    static let maxTextLength = 100

    /// Checked and normalised: country and continent upper case, the continent filled in from the
    /// country, tags sorted without repeats. Throws the first problem as one line.
    public func validated() throws(LocationError) -> AgentLocation {
        var location = self
        location.country = country.map { $0.trimmed.uppercased() }.flatMap { $0.isEmpty ? nil : $0 }
        location.continent = continent.map { $0.trimmed.uppercased() }.flatMap { $0.isEmpty ? nil : $0 }
        if let country = location.country {
            guard let continent = CountryCodes.continent(of: country) else {
                throw LocationError("country \"\(country)\" is not an ISO 3166-1 alpha-2 code (e.g. DE, US, JP)")
            }
            if let given = location.continent, given != continent {
                throw LocationError("country \(country) is in continent \(continent), not \(given)")
            }
            location.continent = continent
        }
        if let continent = location.continent, !CountryCodes.continents.contains(continent) {
            throw LocationError("continent \"\(continent)\" is not one of \(CountryCodes.continents.joined(separator: ", "))")
        }
        for (name, value) in [("region", region), ("city", city), ("network", network)] {
            if let value, value.trimmed.isEmpty || value.count > Self.maxTextLength {
                throw LocationError("\(name) must be 1–\(Self.maxTextLength) characters")
            }
        }
        location.region = region?.trimmed
        location.city = city?.trimmed
        location.network = network?.trimmed
        if let latitude, !(-90...90).contains(latitude) { throw LocationError("latitude \(latitude) is outside -90…90") }
        if let longitude, !(-180...180).contains(longitude) { throw LocationError("longitude \(longitude) is outside -180…180") }
        if (latitude == nil) != (longitude == nil) { throw LocationError("give latitude and longitude together") }
        if let asn, !(1...Self.maxASN).contains(asn) { throw LocationError("ASN \(asn) is outside 1–\(Self.maxASN)") }
        for tag in tags where !Self.isValidTag(tag) {
            throw LocationError("tag \"\(tag)\" must be a lower-case word: a–z, 0–9 and inner hyphens, at most 64 characters")
        }
        location.tags = Array(Set(tags)).sorted()
        if location.tags.count > Self.maxTags { throw LocationError("at most \(Self.maxTags) tags") }
        return location
    }

    /// `eyeball`, `aws-eu-west-1`: lower-case letters and digits, hyphens inside.
    public static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard (1...64).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { return false }
        let letters = UInt8(ascii: "a")...UInt8(ascii: "z")
        let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
        return bytes.allSatisfy { letters.contains($0) || digits.contains($0) || $0 == UInt8(ascii: "-") }
    }
}

/// A location an agent declared (or a selection asked for) that is not valid.
public struct LocationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
