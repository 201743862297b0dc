import IMNCore

/// A module's input from `key=value` words: each value takes the type the module's input schema
/// gives the key (integer, number, boolean, string, or JSON for objects and arrays); `key:=JSON`
/// is taken as JSON whatever the schema says. Without a schema, numbers and true/false are read
/// as such and everything else as a string.
public enum InputArguments {
    public static func parse(_ words: [String], schema: JSONValue?) throws(ClientError) -> JSONValue {
        var input: [String: JSONValue] = [:]
        let properties = schema?["properties"]?.objectValue
        for word in words {
            guard let equals = word.firstIndex(of: "="), equals != word.startIndex else {
                throw .usage("\"\(word)\" is not key=value (e.g. count=3, or key:=JSON for a JSON value)")
            }
            var key = String(word[..<equals])
            let value = String(word[word.index(after: equals)...])
            if key.hasSuffix(":") {
                key.removeLast()
                guard let json = JSONValue(parsing: Array(value.utf8)) else { throw .usage("\(key):= takes JSON; \"\(value)\" is not JSON") }
                input[key] = json
                continue
            }
            if let properties, properties[key] == nil, schema?["additionalProperties"]?.boolValue == false {
                let known = properties.keys.sorted().joined(separator: ", ")
                throw .usage("\(key) is not an input of this module; it takes \(known)")
            }
            input[key] = try typed(value, key: key, property: properties?[key])
        }
        return .object(input)
    }

    static func typed(_ value: String, key: String, property: JSONValue?) throws(ClientError) -> JSONValue {
        switch property?["type"]?.stringValue {
        case "integer":
            guard let number = Int64(value) else { throw .usage("\(key) takes an integer, not \"\(value)\"") }
            return .number(Double(number))
        case "number":
            guard let number = Double(value), number.isFinite else { throw .usage("\(key) takes a number, not \"\(value)\"") }
            return .number(number)
        case "boolean":
            switch value.lowercased() {
            case "true", "yes", "1", "on": return .bool(true)
            case "false", "no", "0", "off": return .bool(false)
            default: throw .usage("\(key) takes true or false, not \"\(value)\"")
            }
        case "object", "array":
            guard let json = JSONValue(parsing: Array(value.utf8)) else { throw .usage("\(key) takes JSON, e.g. \(key)='{\"a\":\"b\"}'") }
            return json
        case "string":
            return .string(value)
        default:
            // An enum of strings, or no schema: a plain number or boolean when it reads as one.
            if let members = property?["enum"]?.arrayValue, members.contains(.string(value)) { return .string(value) }
            if let number = Double(value), number.isFinite, property == nil { return .number(number) }
            if property == nil, value == "true" || value == "false" { return .bool(value == "true") }
            return .string(value)
        }
    }
}

/// `--from` words: locations separated by commas, each location's terms joined by `+`. A term is
/// `key=value` (continent, country, region, city, asn, network, tag, limit), `AS<number>`, a
/// two-letter country code, a continent (EU, AN, or a name such as europe), or else a tag.
/// `DE,US` is one agent in Germany and one in the US; `DE+eyeball+limit=3` three German eyeball
/// agents.
public enum SelectionArgument {
    static let continentNames = [
        "africa": "AF", "antarctica": "AN", "asia": "AS", "europe": "EU", "north-america": "NA", "northamerica": "NA",
        "oceania": "OC", "south-america": "SA", "southamerica": "SA",
    ]

    public static func locations(_ words: [String]) throws(ClientError) -> [JSONValue] {
        var locations: [JSONValue] = []
        for part in words.flatMap({ $0.split(separator: ",") }) {
            let terms = part.split(separator: "+").map { String($0).trimmed }.filter { !$0.isEmpty }
            guard !terms.isEmpty else { continue }
            var location: [String: JSONValue] = [:]
            var tags: [JSONValue] = []
            for term in terms {
                let (key, value) = try field(term)
                if key == "tags" {
                    tags.append(.string(value))
                } else if key == "asn" || key == "limit" {
                    let digits = key == "asn" && value.uppercased().hasPrefix("AS") ? String(value.dropFirst(2)) : value
                    guard let number = Int64(digits), number > 0 else { throw .usage("--from: \(key) takes a positive integer, not \"\(value)\"") }
                    location[key] = .number(Double(number))
                } else {
                    guard location[key] == nil else { throw .usage("--from: \(key) given twice in \"\(part)\" (a comma starts another location)") }
                    location[key] = .string(value)
                }
            }
            if !tags.isEmpty { location["tags"] = .array(tags) }
            locations.append(.object(location))
        }
        guard !locations.isEmpty else { throw .usage("--from needs a location, e.g. --from DE or --from country=DE+tag=eyeball") }
        return locations
    }

    static func field(_ term: String) throws(ClientError) -> (String, String) {
        if let equals = term.firstIndex(of: "=") {
            let key = term[..<equals].lowercased()
            let value = String(term[term.index(after: equals)...]).trimmed
            guard !value.isEmpty else { throw .usage("--from: \(key)= needs a value") }
            switch key {
            case "tag", "tags": return ("tags", value.lowercased())
            case "continent", "country", "region", "city", "asn", "network", "limit": return (key, value)
            default:
                throw .usage("--from: unknown key \"\(key)\"; use continent, country, region, city, asn, network, tag or limit")
            }
        }
        let upper = term.uppercased()
        if upper.hasPrefix("AS"), upper.count > 2, upper.dropFirst(2).allSatisfy(\.isNumber) { return ("asn", String(upper.dropFirst(2))) }
        if upper.count == 2, CountryCodes.continent(of: upper) != nil { return ("country", upper) }
        if upper.count == 2, CountryCodes.continents.contains(upper) { return ("continent", upper) }
        if let continent = continentNames[term.lowercased()] { return ("continent", continent) }
        return ("tags", term.lowercased())
    }
}
