import IMNCore

// The measurements' part of the OpenAPI document: POST/GET /measurements, GET /measurements/{id}
// and the agent filters of GET /agents.
extension OpenAPIDocument {
    static var measurementPaths: [String: JSONValue] {
        [
            "/agents": [
                "get": operation(
                    "listAgents", "Agents, filtered by where they are (every filter given must match)",
                    parameters: agentFilters + [
                        query("alive", "Only agents heard (true) or not heard (false) within the heartbeat timeout", boolean),
                        query("module", "Only agents that advertise this module", string),
                    ], ok: array(ref("Agent")), errors: badRequest)
            ],
            "/measurements": [
                "post": [
                    "operationId": "createMeasurement",
                    "summary": "Run a module on many agents: named, chosen by location, ASN and tags, or an earlier measurement's",
                    "description": """
                    Selection takes alive agents that advertise the module and match, shuffled within each location, one pick per \
                    location in turn (so picks spread over the locations), never one agent twice. A location's own `limit` caps \
                    it; the overall `limit` (default: the sum of the locations' limits when each has one, else one per location; \
                    at most 1000) caps the whole. A re-run (`measurement`) takes the earlier measurement's agents and reports \
                    those no longer alive as `offline`. The same Idempotency-Key (or body `id`) answers the first measurement and \
                    never runs anything twice; each run's request id is `<measurement id>~<agent id>`.
                    """,
                    "parameters": [
                        query(
                            "wait", "Seconds to wait (at most 60 are waited) until every run is terminal: 200 then, else 202 with what is there",
                            ["type": "number", "minimum": 0]),
                        ["name": "Idempotency-Key", "in": "header", "required": false, "schema": ["type": "string", "maxLength": 128]],
                    ],
                    "requestBody": ["required": true, "content": ["application/json": ["schema": ref("MeasurementRequest")]]],
                    "responses": [
                        "200": response("every run is terminal (with ?wait)", ref("MeasurementRuns")),
                        "202": response("accepted: the runs and their states (Location: /measurements/{id})", ref("MeasurementRuns")),
                        "400": problem("malformed JSON"), "404": problem("the measurement to re-run does not exist"),
                        "422": problem("invalid selection or input, or a location matched no agent (one entry per problem, with a pointer)"),
                        "429": problem("the token has as many measurements in flight as it may (Retry-After)"),
                        "503": problem("the state service is unreachable"),
                    ],
                ],
                "get": operation(
                    "listMeasurements", "Measurements, oldest first", parameters: [limit, cursor],
                    ok: object([
                        "measurements": array(
                            object(["id": string, "module": string, "runs": integer, "created_at": string, "links": ["type": "object"]])),
                        "next_cursor": nullableString,
                    ]), errors: badRequest),
            ],
            "/measurements/{measurement_id}": [
                "get": operation(
                    "getMeasurement", "A measurement: each run with its agent's location, state, result or error, and a summary",
                    parameters: [
                        path("measurement_id", "The measurement's id"),
                        query(
                            "group_by", "Also summarise per group", ["type": "string", "enum": ["country", "asn", "tag", "continent", "network"]]),
                        query("wait", "Seconds to wait until it is finished (more than 60 waits 60)", ["type": "number", "minimum": 0]),
                    ], ok: ref("MeasurementRuns"), errors: notFound.merging(badRequest) { $1 })
            ],
        ]
    }

    static let agentFilters: [JSONValue] = [
        query("continent", "Continent code", ["type": "string", "enum": .array(CountryCodes.continents.map(JSONValue.string))]),
        query("country", "ISO 3166-1 alpha-2, upper case", ["type": "string", "enum": .array(CountryCodes.all.map(JSONValue.string))]),
        query("region", "Region (any case)", string), query("city", "City (any case)", string),
        query("asn", "AS number", ["type": "integer", "minimum": 1, "maximum": 4_294_967_294]),
        query("network", "Network operator (any case)", string),
        query("tag", "Tags the agent must all carry, comma-separated", ["type": "string", "pattern": .string("^(\(tag)(,\(tag))*)?$")]),
    ]

    /// One tag: lower-case letters and digits, hyphens inside, at most 64 characters.
    static let tag = "[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?"

    static var measurementSchemas: [String: JSONValue] {
        let location = object([
            "continent": string, "country": string, "region": string, "city": string, "latitude": number, "longitude": number,
            "asn": integer, "network": string, "tags": array(string),
        ])
        let selector = object(
            [
                "continent": string, "country": string, "region": string, "city": string, "asn": integer, "network": string,
                "tags": array(string), "limit": ["type": "integer", "minimum": 1, "maximum": 1000],
            ], additional: false)
        let summary = object([
            "runs": integer, "created": integer, "started": integer, "running": integer, "completed": integer, "error": integer,
            "failed": integer, "offline": integer,
            "rtt": object(["min_ms": number, "median_ms": number, "max_ms": number, "loss": number, "sent": number, "received": number]),
        ])
        return [
            "Location": location,
            "MeasurementRequest": object(
                [
                    "module": string, "input": ["type": "object"], "agents": array(string), "locations": array(selector),
                    "limit": ["type": "integer", "minimum": 1, "maximum": 1000], "measurement": string, "id": string,
                ], additional: false),
            "MeasurementRuns": object([
                "id": string, "module": string, "status": ["type": "string", "enum": ["in-progress", "finished"]], "created_at": string,
                "input": [:], "selection": [:], "rerun_of": nullableString,
                "runs": array(
                    object([
                        "agent_id": string, "request_id": nullableString, "state": string, "location": location, "result": [:],
                        "error": nullableString, "stats": object(["min_ms": number, "avg_ms": number, "max_ms": number, "loss": number]),
                        "links": ["type": "object"],
                    ])),
                "summary": summary, "group_by": string, "groups": array(summary), "links": ["type": "object"],
            ]),
        ]
    }
}
