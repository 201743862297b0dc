import Testing

@testable import IMNCore

struct LocationTests {
    @Test func validatesAndNormalises() throws {
        let location = try AgentLocation(country: "de", asn: 3320, tags: ["ipv6", "eyeball", "ipv6"]).validated()
        #expect(location.country == "DE")
        #expect(location.continent == "EU")
        #expect(location.tags == ["eyeball", "ipv6"])
        #expect(try AgentLocation(country: "JP").validated().continent == "AS")
        #expect(try AgentLocation(continent: "oc").validated().continent == "OC")
        #expect(CountryCodes.table.count == 249)
    }

    @Test func refusesWithOneLine() {
        func problem(_ location: AgentLocation) -> String? {
            do {
                _ = try location.validated()
                return nil
            } catch { return error.description }
        }
        #expect(problem(AgentLocation(country: "XX"))?.contains("ISO 3166-1") == true)
        #expect(problem(AgentLocation(continent: "AS", country: "DE"))?.contains("continent EU") == true)
        #expect(problem(AgentLocation(continent: "ATLANTIS")) != nil)
        #expect(problem(AgentLocation(asn: 0))?.contains("ASN") == true)
        #expect(problem(AgentLocation(asn: 4_294_967_295)) != nil)
        #expect(problem(AgentLocation(tags: ["Eyeball"]))?.contains("lower-case") == true)
        #expect(problem(AgentLocation(tags: ["-x"])) != nil)
        #expect(problem(AgentLocation(tags: [String(repeating: "a", count: 65)])) != nil)
        #expect(problem(AgentLocation(latitude: 91, longitude: 0))?.contains("latitude") == true)
        #expect(problem(AgentLocation(latitude: 10)) != nil, "latitude without longitude")
        #expect(problem(AgentLocation(city: "  ")) != nil)
        #expect(problem(AgentLocation(tags: ["aws-eu-west-1", "eyeball"])) == nil)
    }

    @Test func filtersMatchEveryFieldGiven() {
        let berlin = AgentLocation(continent: "EU", country: "DE", city: "Berlin", asn: 3320, network: "Deutsche Telekom", tags: ["eyeball", "ipv6"])
        #expect(LocationFilter(country: "DE").matches(berlin))
        #expect(LocationFilter(country: "DE", asn: 3320, tags: ["ipv6"]).matches(berlin))
        #expect(LocationFilter(city: "berlin", network: "deutsche telekom").matches(berlin))
        #expect(!LocationFilter(country: "DE", asn: 3209).matches(berlin))
        #expect(!LocationFilter(tags: ["eyeball", "datacenter"]).matches(berlin))
        #expect(!LocationFilter(country: "DE").matches(nil))
        #expect(LocationFilter().matches(nil))
    }

    @Test func parsesSelectionsWithPointers() {
        let (filter, errors) = LocationFilter.parse(
            ["country": "de", "tags": ["eyeball"], "asn": 3320, "limit": 2], pointer: "/locations/0", extra: ["limit"])
        #expect(errors.isEmpty)
        #expect(filter == LocationFilter(country: "DE", asn: 3320, tags: ["eyeball"]))
        let (_, bad) = LocationFilter.parse(["country": "XX", "asn": 1.5, "tag": "Bad", "colour": "red"], pointer: "/locations/1")
        #expect(Set(bad.map(\.pointer)) == ["/locations/1/country", "/locations/1/asn", "/locations/1/tag", "/locations/1/colour"])
    }
}
