import FoundationEssentials

extension JSONSchema {
    static func check(_ instance: JSONValue, against schema: JSONValue, pointer: String, into violations: inout [SchemaViolation]) {
        func fail(_ keyword: String, _ message: String) {
            violations.append(SchemaViolation(pointer: pointer, keyword: keyword, message: message))
        }
        if case .bool(let allowed) = schema {
            if !allowed { fail("false", "no value is allowed here") }
            return
        }
        guard case .object(let rules) = schema else { return }

        if let type = rules["type"] {
            let allowed = type.arrayValue?.compactMap(\.stringValue) ?? type.stringValue.map { [$0] } ?? []
            let actual = instance.typeName
            let matches = allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))
            if !matches {
                fail("type", "expected \(allowed.joined(separator: " or ")), got \(actual)")
                return  // further keywords would only repeat the same problem
            }
        }
        if let options = rules["enum"]?.arrayValue, !options.contains(where: { equal($0, instance) }) {
            fail("enum", "must be one of \(options.map(\.text).joined(separator: ", "))")
        }
        if let constant = rules["const"], !equal(constant, instance) {
            fail("const", "must be \(constant.text)")
        }
        switch instance {
        case .number(let number): checkNumber(number, rules, fail)
        case .string(let string): checkString(string, rules, fail)
        case .array(let elements):
            if let minimum = rules["minItems"]?.numberValue, Double(elements.count) < minimum {
                fail("minItems", "needs at least \(Int(minimum)) items, has \(elements.count)")
            }
            if let maximum = rules["maxItems"]?.numberValue, Double(elements.count) > maximum {
                fail("maxItems", "allows at most \(Int(maximum)) items, has \(elements.count)")
            }
            if let items = rules["items"] {
                for (index, element) in elements.enumerated() {
                    check(element, against: items, pointer: pointer + "/\(index)", into: &violations)
                }
            }
        case .object(let object):
            for name in rules["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[name] == nil {
                violations.append(
                    SchemaViolation(pointer: pointer + "/" + JSONPointer.escape(name), keyword: "required", message: "is required"))
            }
            let properties = rules["properties"]?.objectValue ?? [:]
            for (name, value) in object.sorted(by: { $0.key < $1.key }) {
                let child = pointer + "/" + JSONPointer.escape(name)
                if let property = properties[name] {
                    check(value, against: property, pointer: child, into: &violations)
                } else if let additional = rules["additionalProperties"] {
                    if case .bool(false) = additional {
                        violations.append(SchemaViolation(pointer: child, keyword: "additionalProperties", message: "is not an allowed property"))
                    } else {
                        check(value, against: additional, pointer: child, into: &violations)
                    }
                }
            }
        default:
            break
        }
        checkCombinations(instance, rules, pointer: pointer, into: &violations)
    }

    private static func checkCombinations(
        _ instance: JSONValue, _ rules: [String: JSONValue], pointer: String, into violations: inout [SchemaViolation]
    ) {
        func failures(_ branch: JSONValue) -> [SchemaViolation] {
            var found: [SchemaViolation] = []
            check(instance, against: branch, pointer: pointer, into: &found)
            return found
        }
        if let all = rules["allOf"]?.arrayValue {
            for branch in all { violations += failures(branch) }
        }
        if let any = rules["anyOf"]?.arrayValue, !any.contains(where: { failures($0).isEmpty }) {
            violations.append(SchemaViolation(pointer: pointer, keyword: "anyOf", message: "matches none of the \(any.count) allowed shapes"))
        }
        if let one = rules["oneOf"]?.arrayValue {
            let matching = one.filter { failures($0).isEmpty }.count
            if matching != 1 {
                violations.append(
                    SchemaViolation(pointer: pointer, keyword: "oneOf", message: "must match exactly one of \(one.count) shapes, matches \(matching)")
                )
            }
        }
    }

    private static func checkNumber(_ number: Double, _ rules: [String: JSONValue], _ fail: (String, String) -> Void) {
        if let minimum = rules["minimum"]?.numberValue, number < minimum { fail("minimum", "must be ≥ \(format(minimum))") }
        if let maximum = rules["maximum"]?.numberValue, number > maximum { fail("maximum", "must be ≤ \(format(maximum))") }
        if let minimum = rules["exclusiveMinimum"]?.numberValue, number <= minimum { fail("exclusiveMinimum", "must be > \(format(minimum))") }
        if let maximum = rules["exclusiveMaximum"]?.numberValue, number >= maximum { fail("exclusiveMaximum", "must be < \(format(maximum))") }
    }

    private static func checkString(_ string: String, _ rules: [String: JSONValue], _ fail: (String, String) -> Void) {
        let length = string.unicodeScalars.count
        if let minimum = rules["minLength"]?.numberValue, Double(length) < minimum {
            fail("minLength", "needs at least \(Int(minimum)) characters, has \(length)")
        }
        if let maximum = rules["maxLength"]?.numberValue, Double(length) > maximum {
            fail("maxLength", "allows at most \(Int(maximum)) characters, has \(length)")
        }
        if let pattern = rules["pattern"]?.stringValue {
            if let expression = try? Regex(pattern) {
                if (try? expression.firstMatch(in: string)) == nil { fail("pattern", "must match \(pattern)") }
            } else {
                fail("pattern", "the schema's pattern \(pattern) is not a valid regular expression")
            }
        }
        if let format = rules["format"]?.stringValue, !StringFormat.matches(string, format: format) {
            fail("format", "is not a valid \(format)")
        }
    }

    /// JSON equality (1 and 1.0 are equal).
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool { a == b }

    static func format(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }
}

/// RFC 6901 pointers.
public enum JSONPointer {
    public static func escape(_ token: String) -> String {
        token.replacing("~", with: "~0").replacing("/", with: "~1")
    }
}
