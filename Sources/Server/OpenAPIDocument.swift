import IMNCore

/// `GET /openapi.json`: the OpenAPI 3.1 description of every route. A test walks the router and
/// checks that this document lists exactly the routes served.
enum OpenAPIDocument {
    /// The document, with the input and output schemas of `modules` (the built-in ones) as
    /// components `module.<name>.input` and `module.<name>.output`.
    static func document(modules: [ModuleSpec]) -> JSONValue {
        guard case .object(var object) = document, case .object(var components) = object["components"],
            case .object(var schemas) = components["schemas"]
        else { return document }
        for module in modules {
            schemas["module.\(module.name).input"] = module.inputSchema
            if let output = module.outputSchema { schemas["module.\(module.name).output"] = output }
        }
        components["schemas"] = .object(schemas)
        object["components"] = .object(components)
        if !modules.isEmpty, case .object(var paths) = object["paths"], case .object(var item) = paths["/agent/{agent_id}/{module}"],
            case .object(var post) = item["post"]
        {
            let list = modules.map { "`\($0.name)` (\($0.description))" }.joined(separator: "; ")
            post["description"] = .string(
                (post["description"]?.stringValue ?? "")
                    + " Built-in modules, with their schemas under components/schemas/module.<name>.input and .output: \(list).")
            item["post"] = .object(post)
            paths["/agent/{agent_id}/{module}"] = .object(item)
            object["paths"] = .object(paths)
        }
        return .object(object)
    }

    static let document: JSONValue = [
        "openapi": "3.1.0",
        "info": [
            "title": "IMN server", "version": .string(IMNVersion.current),
            "description": """
            Trigger measurements on IMN agents, read their results, schedule recurring runs. Errors are RFC 9457 problems. \
            When the server has tokens (--tokens-file or IMN_API_TOKENS), every path but /health, /ready, /metrics, \
            /openapi.json and /docs needs `Authorization: Bearer <token>`: 401 without a valid token, 403 without the read \
            (GET) or write (POST, DELETE) scope, 429 with Retry-After over the token's rate or, on a measurement, over \
            the token's measurements in flight.
            """,
        ],
        "servers": [["url": "http://localhost:8000"]],
        "paths": .object(paths),
        "components": [
            "schemas": .object(schemas.merging(measurementSchemas) { $1 }), "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]],
        ],
        // A token when the server has tokens; none when it has not.
        "security": [["bearer": []], [:]],
    ]

    /// Every path: these and the measurements' (`OpenAPIDocument+Measurements.swift`).
    static var paths: [String: JSONValue] { basePaths.merging(measurementPaths) { $1 }.merging(historyPaths) { $1 } }

    static var basePaths: [String: JSONValue] {
        [
            "/": [
                "get": [
                    "operationId": "status", "summary": "Status: agents total and alive, version, uptime (a web page for browsers)",
                    "description": "With `Accept: text/html` (a browser) the built-in web page: agents, live results, RTT chart, a run form.",
                    "responses": [
                        "200": ["description": "OK", "content": ["application/json": ["schema": ref("Status")], "text/html": ["schema": string]]]
                    ],
                ]
            ],
            "/status": ["get": operation("statusAlias", "The same as GET /", ok: ref("Status"))],
            "/health": ["get": operation("health", "Liveness: the process answers", ok: object(["status": string]))],
            "/ready": [
                "get": operation(
                    "ready", "Readiness: NATS connected and DBOS serving (503 otherwise)", ok: ref("Readiness"),
                    errors: ["503": ["description": "not ready", "content": ["application/json": ["schema": ref("Readiness")]]]])
            ],
            "/metrics": [
                "get": [
                    "operationId": "metrics", "summary": "Prometheus metrics (text exposition 0.0.4)",
                    "responses": ["200": ["description": "metrics", "content": ["text/plain": ["schema": string]]]],
                ]
            ],
            "/openapi.json": ["get": operation("openapi", "This document", ok: ["type": "object"])],
            "/docs": [
                "get": [
                    "operationId": "docs", "summary": "A page that renders this document",
                    "responses": ["200": ["description": "HTML", "content": ["text/html": ["schema": string]]]],
                ]
            ],
            "/agents/alive": ["get": operation("listAliveAgents", "Agents heard within the heartbeat timeout", ok: array(ref("Agent")))],
            "/agents/dead": ["get": operation("listDeadAgents", "Agents not heard within the heartbeat timeout", ok: array(ref("Agent")))],
            "/agents/{agent_id}": [
                "get": operation(
                    "getAgent", "One agent with its modules and their input schemas", parameters: [agentID], ok: ref("Agent"), errors: notFound)
            ],
            "/agent/{agent_id}/{module}": [
                "post": [
                    "operationId": "runModule",
                    "summary": "Run a module on an agent",
                    "description":
                        "The body is the module input, checked against the module's JSON Schema. The same Idempotency-Key (or body id) returns the same request and never runs it twice.",
                    "parameters": [
                        agentID, moduleName,
                        query(
                            "wait", "Seconds (≤ 60) to wait for a terminal state: 200 with the result, or 202 at the deadline",
                            ["type": "number", "minimum": 0, "maximum": 60]),
                        query("untracked", "Fire and forget (the prototype's behaviour): 202 at once", ["type": "boolean"]),
                        ["name": "Idempotency-Key", "in": "header", "required": false, "schema": ["type": "string", "maxLength": 256]],
                    ],
                    "requestBody": ["required": false, "content": ["application/json": ["schema": ["type": "object"]]]],
                    "responses": .object(
                        [
                            "200": response("terminal state with the result", ref("Measurement")),
                            "202": response("accepted; not terminal yet", ref("Measurement")),
                            "400": problem("malformed JSON or bad Idempotency-Key"), "404": problem("unknown agent or module"),
                            "409": problem("agent not alive, module disabled or agent overloaded"), "413": problem("body over 1 MiB"),
                            "422": problem("input does not match the module's schema (one entry per violation)"),
                            "429": problem("the token has as many measurements in flight as it may (Retry-After)"),
                            "503": problem("agent or state service unreachable; the state becomes failed"),
                        ]),
                ]
            ],
            "/agents/{agent_id}/results": [
                "get": operation(
                    "listResults", "Stored results of an agent, oldest first",
                    parameters: [
                        agentID, limit, cursor, query("module", "Only this module", string),
                        query("since", "Received at or after (ms since 1970)", milliseconds),
                        query("until", "Received before (ms since 1970)", milliseconds),
                    ], ok: object(["results": array(ref("Result")), "next_cursor": nullableString]), errors: badRequest)
            ],
            "/agents/{agent_id}/results/{request_id}": [
                "get": operation("getResult", "One stored result", parameters: [agentID, requestID], ok: ref("Result"), errors: notFound),
                "delete": [
                    "operationId": "deleteResult", "summary": "Delete a stored result", "parameters": [agentID, requestID],
                    "responses": ["204": ["description": "deleted"], "404": problem("no such result")],
                ],
            ],
            "/agents/{agent_id}/modules/{module}/{action}": [
                "post": operation(
                    "controlModule", "Enable, disable or reload a module on an agent (over imn.ctl)",
                    parameters: [
                        agentID, moduleName,
                        ["name": "action", "in": "path", "required": true, "schema": ["type": "string", "enum": ["enable", "disable", "reload"]]],
                    ],
                    ok: object(["agent_id": string, "module": string, "action": string, "message": string]),
                    errors: [
                        "404": problem("unknown agent, module or action"), "409": problem("refused by the agent"),
                        "503": problem("agent unreachable"),
                    ])
            ],
            "/modules/states": [
                "get": operation(
                    "listStates", "Module states, oldest first",
                    parameters: [
                        query("agent", "Only this agent", string), query("module", "Only this module", string),
                        query(
                            "state", "Only this state",
                            ["type": "string", "enum": .array(ModuleStateName.allCases.map { .string($0.rawValue) })]),
                        limit, cursor,
                    ], ok: object(["states": array(ref("State")), "next_cursor": nullableString]), errors: badRequest)
            ],
            "/modules/states/{request_id}": [
                "get": operation("getState", "One state with its transition history", parameters: [requestID], ok: ref("State"), errors: notFound)
            ],
            "/schedules": [
                "post": [
                    "operationId": "createSchedule", "summary": "Run a module on agents every interval or on a cron schedule",
                    "requestBody": ["required": true, "content": ["application/json": ["schema": ref("ScheduleRequest")]]],
                    "responses": [
                        "201": response("created", ref("Schedule")), "200": response("a schedule with this id exists", ref("Schedule")),
                        "400": problem("malformed JSON"), "404": problem("unknown agent or module"), "422": problem("invalid schedule or input"),
                    ],
                ],
                "get": operation(
                    "listSchedules", "Schedules", parameters: [limit, cursor],
                    ok: object(["schedules": array(ref("Schedule")), "next_cursor": nullableString]), errors: badRequest),
            ],
            "/schedules/{schedule_id}": [
                "get": operation("getSchedule", "One schedule", parameters: [scheduleID], ok: ref("Schedule"), errors: notFound),
                "delete": [
                    "operationId": "deleteSchedule", "summary": "Stop a schedule", "parameters": [scheduleID],
                    "responses": ["204": ["description": "stopped"], "404": problem("no such schedule")],
                ],
            ],
            "/events": [
                "get": operation(
                    "listEvents", "The audit log: state changes, results, tasks, registrations (oldest first)", parameters: [limit, eventCursor],
                    ok: object(["events": array(ref("Event")), "next_cursor": nullableString]), errors: badRequest)
            ],
            "/live/events": [
                "get": liveOperation(
                    "liveEvents", "Live events as Server-Sent Events: each `data:` line one JSON LiveEvent", type: "text/event-stream")
            ],
            "/live": [
                "get": liveOperation(
                    "liveWebSocket", "Live events over a WebSocket (send `Upgrade: websocket`): each text message one JSON LiveEvent",
                    type: nil)
            ],
        ]
    }

    /// The live stream's filters, shared by its SSE and WebSocket forms.
    static func liveOperation(_ id: String, _ summary: String, type: String?) -> JSONValue {
        let filters: [JSONValue] = [
            query("agent", "Only these agents (comma-separated)", string), query("module", "Only these modules (comma-separated)", string),
            query("kind", "Only these kinds (comma-separated): heartbeats, agent, state, result", string),
            query("measurement", "Only the state and result events of these measurements (comma-separated ids)", string),
        ]
        var responses = badRequest
        if let type {
            responses["200"] = ["description": "an endless stream", "content": .object([type: ["schema": string]])]
        } else {
            responses["101"] = ["description": "switching to the WebSocket protocol"]
        }
        return [
            "operationId": .string(id), "summary": .string(summary), "parameters": .array(filters), "responses": .object(responses),
            "description": """
            Heartbeats aggregated per second ({kind: heartbeats, count, agent_ids (up to 1,000), and with an agent filter \
            agents: {id: {sequence, sent_at_ms, modules}}}), agents \
            going up or down ({kind: agent, agent_id, alive}), state changes ({kind: state, id, agent_id, module, state, at_ms}) \
            and terminal results ({kind: result, …, output, error}), from every server replica. A client that reads too \
            slowly loses its oldest events (imn_server_live_dropped_total). A module filter passes only events that name a module.
            """,
        ]
    }

    static var schemas: [String: JSONValue] {
        [
            "Problem": object(
                [
                    "type": string, "title": string, "status": integer, "detail": string,
                    "errors": array(object(["pointer": string, "keyword": string, "detail": string])),
                ],
                required: ["title", "status"]),
            "Status": object(["agents_total": integer, "agents_alive": integer, "version": string, "uptime_seconds": number]),
            "Readiness": object(["nats": boolean, "dbos": boolean, "ready": boolean]),
            "Agent": object(
                [
                    "agent_id": string, "name": string, "hostname": string, "version": string, "started_at_ms": integer, "alive": boolean,
                    "seconds_since_heartbeat": number,
                    "modules": array(
                        object([
                            "name": string, "version": string, "description": string, "input_schema": ["type": "object"],
                            "output_description": string, "output_schema": ["type": "object"], "max_concurrency": integer, "external": boolean,
                            "enabled": boolean,
                        ])),
                    "schema_warnings": array(string), "location": ref("Location"),
                ], additional: true),
            "Measurement": object(
                [
                    "id": string, "agent_id": string, "module": string, "state": string, "result": [:], "detail": nullableString,
                    "untracked": boolean, "links": ["type": "object"],
                ],
                required: ["id", "agent_id", "module"]),
            "Result": object([
                "id": string, "agent_id": string, "module": string, "state": string, "result": [:], "received_at_ms": integer,
                "started_at_ms": integer,
                "finished_at_ms": integer,
            ]),
            "State": object([
                "id": string, "agent_id": string, "module": string, "state": string, "version": integer, "created_at_ms": integer,
                "updated_at_ms": integer,
                "detail": nullableString,
                "history": array(object(["from": nullableString, "to": string, "at_ms": integer, "actor": string, "detail": nullableString])),
            ]),
            "ScheduleRequest": object(
                [
                    "id": string, "agents": array(string), "agent_id": string, "module": string, "input": ["type": "object"],
                    "locations": array(["type": "object"]), "limit": ["type": "integer", "minimum": 1, "maximum": 1000],
                    "interval_seconds": ["type": "number", "minimum": 0.5], "cron": string,
                    "start": ["type": ["string", "integer"], "description": "RFC 3339 date-time or ms since 1970"],
                    "end": ["type": ["string", "integer"], "description": "RFC 3339 date-time or ms since 1970"],
                ], required: ["module"]),
            "Schedule": object([
                "id": string, "agents": array(string), "selection": [:], "module": string, "input": [:],
                "interval_seconds": ["type": ["number", "null"]],
                "cron": nullableString,
                "state": string, "next_run_at": nullableString, "end": nullableString, "runs": integer, "last_error": nullableString,
                "links": ["type": "object"],
            ]),
            "Event": object(["id": string, "kind": string, "subject": string, "actor": string, "at_ms": integer]),
        ]
    }

    // MARK: Building blocks

    static let string: JSONValue = ["type": "string"]
    static let nullableString: JSONValue = ["type": ["string", "null"]]
    static let integer: JSONValue = ["type": "integer"]
    static let number: JSONValue = ["type": "number"]
    static let boolean: JSONValue = ["type": "boolean"]
    static let agentID = path("agent_id", "The agent's id")
    static let moduleName = path("module", "A module the agent advertises")
    static let requestID = path("request_id", "The request id (Idempotency-Key)")
    static let scheduleID = path("schedule_id", "The schedule's id (sch_…)")
    static let limit = query(
        "limit", "Page size (default 50, at most 1000; 0 is the default)", ["type": "integer", "minimum": 0, "maximum": 1000])
    static let cursor = query("cursor", "next_cursor of the previous page", ["type": "string", "pattern": "^([0-9]{1,18}:.+)?$"])
    static let eventCursor = query(
        "cursor", "next_cursor of the previous page (an event id)", ["type": "string", "pattern": "^([0-9]{1,18}-[0-9]{1,18})?$"])
    /// ms since 1970, up to the end of year 9999.
    static let milliseconds: JSONValue = ["type": "integer", "minimum": 0, "maximum": 253_402_300_799_999]
    static let notFound: [String: JSONValue] = ["404": problem("not found")]
    static let badRequest: [String: JSONValue] = ["400": problem("bad query parameter")]

    static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }
    static func array(_ items: JSONValue) -> JSONValue { ["type": "array", "items": items] }
    static func object(_ properties: [String: JSONValue], required: [String] = [], additional: Bool = true) -> JSONValue {
        var object: [String: JSONValue] = ["type": "object", "properties": .object(properties)]
        if !required.isEmpty { object["required"] = .array(required.map(JSONValue.string)) }
        if !additional { object["additionalProperties"] = false }
        return .object(object)
    }
    static func path(_ name: String, _ description: String) -> JSONValue {
        ["name": .string(name), "in": "path", "required": true, "description": .string(description), "schema": ["type": "string"]]
    }
    static func query(_ name: String, _ description: String, _ schema: JSONValue) -> JSONValue {
        ["name": .string(name), "in": "query", "required": false, "description": .string(description), "schema": schema]
    }
    static func response(_ description: String, _ schema: JSONValue) -> JSONValue {
        ["description": .string(description), "content": ["application/json": ["schema": schema]]]
    }
    static func problem(_ description: String) -> JSONValue {
        ["description": .string(description), "content": ["application/problem+json": ["schema": ref("Problem")]]]
    }
    static func operation(
        _ id: String, _ summary: String, parameters: [JSONValue] = [], ok: JSONValue, errors: [String: JSONValue] = [:]
    ) -> JSONValue {
        var responses = errors
        responses["200"] = response("OK", ok)
        var operation: [String: JSONValue] = ["operationId": .string(id), "summary": .string(summary), "responses": .object(responses)]
        if !parameters.isEmpty { operation["parameters"] = .array(parameters) }
        return .object(operation)
    }
}
