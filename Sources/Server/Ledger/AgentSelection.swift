import IMNCore

/// Who runs a measurement: named agents, locations with limits, or an earlier measurement's
/// agents. Picks alive agents that advertise the module, spreads the picks over the locations in
/// turn, and never picks an agent twice.
struct AgentSelection: Sendable, Hashable {
    struct Location: Sendable, Hashable {
        var filter: LocationFilter
        /// At most this many from this location (nil: as many as the overall limit allows).
        var limit: Int?
    }

    enum Who: Sendable, Hashable {
        case agents([String])
        case locations([Location], limit: Int?)
        case measurement(String)
    }

    var who: Who

    /// The most runs one measurement may have.
    static let maxLimit = 1000

    /// The agents chosen from `candidates` (alive, with the module) — at random within each
    /// location, so repeated measurements spread over a location's agents (a partial shuffle:
    /// as many draws as picks, not a shuffle of thousands). `draw` picks an index in a range (tests
    /// take the first). Throws `invalidRequest` naming the location that matched nothing.
    static func pick(
        _ locations: [Location], limit: Int?, module: String, candidates: [AgentRegistry.Candidate],
        draw: (Range<Int>) -> Int = { Int.random(in: $0) }
    ) throws(LedgerError) -> [AgentRegistry.Candidate] {
        var pools: [[AgentRegistry.Candidate]] = []
        var violations: [SchemaViolation] = []
        for (index, location) in locations.enumerated() {
            let pool = candidates.filter { location.filter.matches($0.location) }
            if pool.isEmpty {
                violations.append(
                    SchemaViolation(
                        pointer: "/locations/\(index)", keyword: "match",
                        message: "no alive agent with module \(module) matches \(location.filter.summary)"))
            }
            pools.append(pool)
        }
        guard violations.isEmpty else {
            throw LedgerError(.invalidRequest, "a location matched no agent that can run \(module)", violations: violations)
        }
        let overall = limit ?? (locations.allSatisfy { $0.limit != nil } ? locations.compactMap(\.limit).reduce(0, +) : locations.count)
        var chosen: [AgentRegistry.Candidate] = []
        var taken = Set<String>()
        var counts = Array(repeating: 0, count: locations.count)
        var cursors = Array(repeating: 0, count: locations.count)
        var progressed = true
        while chosen.count < min(overall, maxLimit) && progressed {
            progressed = false
            for index in locations.indices where chosen.count < overall {
                if let cap = locations[index].limit, counts[index] >= cap { continue }
                // The next draw of this location's pool (Fisher–Yates, one step at a time).
                while cursors[index] < pools[index].count {
                    pools[index].swapAt(cursors[index], draw(cursors[index]..<pools[index].count))
                    guard taken.contains(pools[index][cursors[index]].agentID) else { break }
                    cursors[index] += 1
                }
                guard cursors[index] < pools[index].count else { continue }
                let entry = pools[index][cursors[index]]
                taken.insert(entry.agentID)
                chosen.append(entry)
                counts[index] += 1
                progressed = true
            }
        }
        return chosen
    }

    /// The selection in a POST /measurements body: `agents`, `locations` (with `limit`), or
    /// `measurement`; every problem is a violation with its pointer.
    static func parse(_ fields: [String: JSONValue]) -> (AgentSelection?, [SchemaViolation]) {
        var errors: [SchemaViolation] = []
        func violation(_ pointer: String, _ keyword: String, _ message: String) {
            errors.append(SchemaViolation(pointer: pointer, keyword: keyword, message: message))
        }
        func limit(_ value: JSONValue?, _ pointer: String) -> Int? {
            guard let value else { return nil }
            guard let number = value.numberValue, number == number.rounded(), (1...Double(maxLimit)).contains(number) else {
                violation(pointer, "maximum", "an integer from 1 to \(maxLimit)")
                return nil
            }
            return Int(number)
        }
        let given = ["agents", "locations", "measurement"].filter { fields[$0] != nil }
        guard given.count == 1 else {
            violation(
                given.isEmpty ? "" : "/\(given[1])", given.isEmpty ? "required" : "oneOf",
                "name who runs it with exactly one of agents, locations or measurement")
            return (nil, errors)
        }
        switch given[0] {
        case "agents":
            guard let list = fields["agents"]?.arrayValue, !list.isEmpty else {
                violation("/agents", "minItems", "a non-empty array of agent ids")
                return (nil, errors)
            }
            var ids: [String] = []
            for (index, value) in list.enumerated() {
                guard let id = value.stringValue, Subjects.isValidToken(id) else {
                    violation("/agents/\(index)", "type", "an agent id")
                    continue
                }
                if !ids.contains(id) { ids.append(id) }
            }
            if ids.count > maxLimit { violation("/agents", "maxItems", "at most \(maxLimit) agents") }
            if fields["limit"] != nil { violation("/limit", "not", "limit goes with locations, not with agents") }
            return (errors.isEmpty ? AgentSelection(who: .agents(ids)) : nil, errors)
        case "locations":
            guard let list = fields["locations"]?.arrayValue, !list.isEmpty else {
                violation("/locations", "minItems", "a non-empty array of locations, e.g. [{\"country\": \"DE\", \"limit\": 2}]")
                return (nil, errors)
            }
            var locations: [Location] = []
            for (index, value) in list.enumerated() {
                guard let object = value.objectValue else {
                    violation("/locations/\(index)", "type", "an object such as {\"country\": \"DE\"}")
                    continue
                }
                let (filter, problems) = LocationFilter.parse(object, pointer: "/locations/\(index)", extra: ["limit"])
                errors += problems
                locations.append(Location(filter: filter, limit: limit(object["limit"], "/locations/\(index)/limit")))
            }
            let overall = limit(fields["limit"], "/limit")
            return (errors.isEmpty ? AgentSelection(who: .locations(locations, limit: overall)) : nil, errors)
        default:
            guard let id = fields["measurement"]?.stringValue, Subjects.isValidRequestID(id) else {
                violation("/measurement", "type", "the id of an earlier measurement")
                return (nil, errors)
            }
            if fields["limit"] != nil { violation("/limit", "not", "a re-run takes the earlier measurement's agents; limit does not apply") }
            return (errors.isEmpty ? AgentSelection(who: .measurement(id)) : nil, errors)
        }
    }
}
