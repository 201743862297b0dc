import ArgumentParser
import FoundationEssentials
import IMNCore

/// Where an agent is, from flags, else `IMN_AGENT_<FIELD>` in the environment, else a JSON file
/// (`--location-file`, `IMN_AGENT_LOCATION_FILE`) with the same field names; checked at start.
public struct LocationOptions: ParsableArguments {
    public init() {}

    @Option(help: "Continent code: AF, AN, AS, EU, NA, OC or SA (default: the country's).") var continent: String?
    @Option(help: "Country, ISO 3166-1 alpha-2 (e.g. DE).") var country: String?
    @Option(help: "Region or state (e.g. Bavaria).") var region: String?
    @Option(help: "City.") var city: String?
    @Option(help: "Latitude in degrees, -90 to 90 (a negative one as --latitude=-33.9).") var latitude: Double?
    @Option(help: "Longitude in degrees, -180 to 180 (a negative one as --longitude=-77.5).") var longitude: Double?
    @Option(help: "AS number of the agent's network, 1–4294967294.") var asn: Int64?
    @Option(help: "Network operator's name (e.g. \"Deutsche Telekom\").") var network: String?
    @Option(help: "Tags, comma-separated lower-case words (e.g. eyeball,ipv6).") var tags: String?
    @Option(help: "JSON file with any of these fields (continent, country, …, tags as an array).") var locationFile: String?

    /// The declared location, validated; a problem is one line naming the field.
    public func resolved(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> AgentLocation {
        func env(_ name: String) -> String? { environment["IMN_AGENT_\(name)"].flatMap { $0.trimmed.isEmpty ? nil : $0.trimmed } }
        var location = AgentLocation()
        if let path = locationFile ?? env("LOCATION_FILE") {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("--location-file: cannot read \(path)") }
            do {
                location = try JSONDecoder().decode(AgentLocation.self, from: data)
            } catch {
                throw ValidationError("--location-file \(path): not a location object (\(error))")
            }
        }
        func number<T: LosslessStringConvertible>(_ flag: T?, _ name: String) throws -> T? {
            if let flag { return flag }
            guard let text = env(name) else { return nil }
            guard let value = T(text) else { throw ValidationError("IMN_AGENT_\(name)=\(text) is not a number") }
            return value
        }
        location.continent = continent ?? env("CONTINENT") ?? location.continent
        location.country = country ?? env("COUNTRY") ?? location.country
        location.region = region ?? env("REGION") ?? location.region
        location.city = city ?? env("CITY") ?? location.city
        location.latitude = try number(latitude, "LATITUDE") ?? location.latitude
        location.longitude = try number(longitude, "LONGITUDE") ?? location.longitude
        location.asn = try number(asn, "ASN") ?? location.asn
        location.network = network ?? env("NETWORK") ?? location.network
        if let list = tags ?? env("TAGS") {
            location.tags = list.split(separator: ",").map { $0.trimmed }.filter { !$0.isEmpty }
        }
        do {
            return try location.validated()
        } catch {
            throw ValidationError("location: \(error)")
        }
    }
}
