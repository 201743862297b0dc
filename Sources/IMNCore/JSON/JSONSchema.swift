import FoundationEssentials

/// One way an instance breaks its schema, for RFC 9457 problem details and agent rejections.
public struct SchemaViolation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// JSON pointer (RFC 6901) into the instance, "" for the whole document.
    public var pointer: String
    /// The schema keyword that failed (`type`, `required`, `maximum`…).
    public var keyword: String
    public var message: String

    public init(pointer: String, keyword: String, message: String) {
        self.pointer = pointer
        self.keyword = keyword
        self.message = message
    }

    public var description: String { "\(pointer.isEmpty ? "/" : pointer): \(message) (\(keyword))" }
}

/// A JSON Schema (the subset IMN modules use, from draft 2020-12) that validates instances and
/// fills in `default`s. Supported: type, properties, required, additionalProperties, enum,
/// const, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern,
/// format (ipv4, ipv6, hostname, uri), items, minItems, maxItems, oneOf, anyOf, allOf, default.
/// Annotations (title, description, examples, $schema, $id, $comment, …) are allowed; any other
/// keyword is reported by ``unsupportedKeywords`` instead of being silently ignored.
public struct JSONSchema: Sendable, Hashable {
    public let value: JSONValue

    public init(_ value: JSONValue) { self.value = value }

    static let validating: Set<String> = [
        "type", "properties", "required", "additionalProperties", "enum", "const", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "minLength", "maxLength", "pattern", "format", "items", "minItems", "maxItems", "oneOf", "anyOf", "allOf",
        "default",
    ]
    static let annotations: Set<String> = [
        "$schema", "$id", "$comment", "title", "description", "examples", "readOnly", "writeOnly", "deprecated", "x-unit",
    ]
    static let formats: Set<String> = ["ipv4", "ipv6", "hostname", "uri"]

    /// Keywords this validator would not enforce, as JSON pointers into the schema.
    public var unsupportedKeywords: [String] {
        var found: [String] = []
        Self.collectUnsupported(value, pointer: "", into: &found)
        return found.sorted()
    }

    private static func collectUnsupported(_ schema: JSONValue, pointer: String, into found: inout [String]) {
        guard case .object(let object) = schema else {
            if case .bool = schema { return }
            found.append(pointer.isEmpty ? "/" : pointer)
            return
        }
        for (key, child) in object {
            let here = pointer + "/" + JSONPointer.escape(key)
            if !validating.contains(key) && !annotations.contains(key) {
                found.append(here)
                continue
            }
            switch key {
            case "properties":
                for (name, property) in child.objectValue ?? [:] {
                    collectUnsupported(property, pointer: here + "/" + JSONPointer.escape(name), into: &found)
                }
            case "items", "additionalProperties":
                if case .object = child { collectUnsupported(child, pointer: here, into: &found) }
            case "oneOf", "anyOf", "allOf":
                for (index, branch) in (child.arrayValue ?? []).enumerated() {
                    collectUnsupported(branch, pointer: here + "/\(index)", into: &found)
                }
            case "format":
                if let format = child.stringValue, !formats.contains(format) { found.append(here) }
            default:
                break
            }
        }
    }

    /// Every violation of `instance`, or none.
    public func validate(_ instance: JSONValue) -> [SchemaViolation] {
        var violations: [SchemaViolation] = []
        Self.check(instance, against: value, pointer: "", into: &violations)
        return violations
    }

    /// The instance with `default`s filled in for absent properties (recursively).
    public func applyingDefaults(to instance: JSONValue) -> JSONValue {
        Self.fill(instance, schema: value)
    }

    private static func fill(_ instance: JSONValue, schema: JSONValue) -> JSONValue {
        guard case .object(var object) = instance, let properties = schema["properties"]?.objectValue else { return instance }
        for (name, property) in properties {
            if let present = object[name] {
                object[name] = fill(present, schema: property)
            } else if let fallback = property["default"] {
                object[name] = fallback
            }
        }
        return .object(object)
    }
}
