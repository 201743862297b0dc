import FoundationEssentials
import Glibc
import IMNCore
import NATSClient
import Tracing

extension AgentRuntime {
    /// Answers every command on `imn.cmd.<agent>.*`; accepted runs go on concurrently.
    func serveCommands(_ connection: NATSConnection) async throws {
        let commands = try connection.subscribe(to: "imn.cmd.\(id).*")
        try await withThrowingDiscardingTaskGroup { group in
            for await message in commands {
                group.addTask {
                    // A consumer span continuing the server's trace; the module's run is inside it.
                    await withSpan("\(message.subject) process", context: message.headers.serviceContext(), ofKind: .consumer) { span in
                        span.attributes["messaging.system"] = "nats"
                        span.attributes["messaging.destination.name"] = message.subject
                        span.attributes["imn.agent.id"] = self.id
                        await self.handle(message, connection: connection)
                    }
                }
            }
        }
    }

    func handle(_ message: NATSMessage, connection: NATSConnection) async {
        let moduleName = String(message.subject.split(separator: ".").last ?? "")
        func reply(_ answer: CommandReply) {
            guard let replyTo = message.replyTo, let body = try? JSONEncoder().encode(answer) else { return }
            var headers = NATSHeaders()
            for (name, value) in message.headers where ["traceparent", "tracestate", "baggage"].contains(name) { headers.add(name, value) }
            try? connection.publish(replyTo, payload: Array(body), headers: headers)
        }
        var claimed: String?
        func reject(_ reason: CommandReply.Reason, _ text: String, _ violations: [SchemaViolation]? = nil) {
            if let claimed { recentRequests.release(claimed) }
            metrics.run(module: moduleName, outcome: "rejected")
            reply(CommandReply(status: .rejected, reason: reason, message: text, violations: violations, agentID: id))
        }
        guard let command = try? JSONDecoder().decode(CommandRequest.self, from: Data(message.payload)) else {
            return reject(.malformedCommand, "the command is not JSON of the form {\"request_id\": …, \"input\": {…}}")
        }
        guard Subjects.isValidRequestID(command.requestID) else {
            return reject(.malformedCommand, "request_id must be 1–256 characters without spaces, dots, * or >")
        }
        // Accepted before: answered again, never run twice.
        guard recentRequests.claim(command.requestID) else { return reply(CommandReply(status: .accepted, agentID: id)) }
        claimed = command.requestID
        let module: any MeasurementModule
        switch modules.admit(moduleName) {
        case .unknown: return reject(.unknownModule, "agent \(id) has no module \(moduleName)")
        case .disabled: return reject(.disabledModule, "module \(moduleName) is disabled on agent \(id)")
        case .overloaded(let limit): return reject(.overloaded, "module \(moduleName) is already running \(limit) times (its limit)")
        case .agentOverloaded(let limit):
            return reject(.overloaded, "agent \(id) is already running \(limit) measurements (its limit, --max-concurrent-runs)")
        case .admitted(let admitted): module = admitted
        }
        let schema = JSONSchema(module.spec.inputSchema)
        let violations = schema.validate(command.input)
        guard violations.isEmpty else {
            modules.release(moduleName)
            return reject(.invalidInput, "the input does not match \(moduleName)'s schema", violations)
        }
        let timeout = min(
            command.timeoutSeconds.map { Duration.milliseconds(Int64(max($0, 0.001) * 1000)) } ?? configuration.defaultTimeout,
            configuration.maxTimeout)
        let started = transition(command.requestID, module: module, state: "started")
        do {
            try outbox.enqueue(started, headers: .tracing())
        } catch {
            modules.release(moduleName)
            logger.error("outbox write failed", metadata: ["error": "\(error)"])
            return reject(.overloaded, "the agent could not record the run: \(error)")
        }
        reply(CommandReply(status: .accepted, agentID: id))
        await execute(module, input: schema.applyingDefaults(to: command.input), requestID: command.requestID, timeout: timeout)
        modules.release(moduleName)
    }

    /// Runs an accepted command to its terminal state, recording each transition in the outbox.
    func execute(_ module: any MeasurementModule, input: JSONValue, requestID: String, timeout: Duration) async {
        let name = module.spec.name
        var logger = self.logger
        logger[metadataKey: "request.id"] = "\(requestID)"
        logger[metadataKey: "module"] = "\(name)"
        let clock = ContinuousClock()
        let begin = clock.now
        let startedAt = Self.now()
        var running = transition(requestID, module: module, state: "running")
        running.startedAtMilliseconds = startedAt
        record(running)
        let context = ModuleContext(
            agentID: id, requestID: requestID, logger: logger, metrics: metrics.probes, targetPolicy: configuration.targetPolicy)
        let outcome = await withSpan("\(name) run", ofKind: .internal) { span in
            span.attributes["imn.module"] = name
            span.attributes["imn.request.id"] = requestID
            let outcome = await Self.run(module, input: input, context: context, timeout: timeout)
            span.attributes["imn.outcome"] = outcome.state
            if outcome.state != "completed" { span.setStatus(SpanStatus(code: .error, message: outcome.error)) }
            return outcome
        }
        let limited = outcome.limited(outputBytes: configuration.maxOutputBytes)
        var final = transition(requestID, module: module, state: limited.state)
        final.startedAtMilliseconds = startedAt
        final.finishedAtMilliseconds = Self.now()
        final.output = limited.output
        final.error = limited.error
        record(final)
        metrics.run(module: name, outcome: outcome.state)
        metrics.runDuration(module: name, clock.now - begin)
        logger.debug("run finished", metadata: ["state": "\(outcome.state)"])
    }

    struct Outcome: Sendable {
        var state: String
        var output: JSONValue?
        var error: String?

        /// Longest error message kept (an external module's stderr can be anything).
        static let maxErrorBytes = 4096

        /// The outcome as it may be published: an output larger than `outputBytes` (encoded)
        /// becomes an error saying so, and a long error message is cut.
        func limited(outputBytes: Int) -> Outcome {
            var limited = self
            if let output, case let size = output.bytes.count, size > outputBytes {
                let error = "the output is \(size) bytes, more than the agent's limit of \(outputBytes) (--max-output-bytes)"
                limited = Outcome(state: "error", output: nil, error: error)
            }
            if let error = limited.error, error.utf8.count > Self.maxErrorBytes {
                limited.error = String(decoding: error.utf8.prefix(Self.maxErrorBytes), as: UTF8.self) + "… (cut)"
            }
            return limited
        }
    }

    /// The module's run raced against its timeout; the loser is cancelled.
    static func run(_ module: any MeasurementModule, input: JSONValue, context: ModuleContext, timeout: Duration) async -> Outcome {
        await withTaskGroup(of: Outcome.self) { group in
            group.addTask {
                do {
                    return Outcome(state: "completed", output: try await module.run(input: input, context: context))
                } catch let error as ModuleError {
                    return Outcome(state: "error", error: error.message)
                } catch {
                    return Outcome(state: "failed", error: "the run died: \(error)")
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Outcome(state: "failed", error: "timed out after \(timeout)")
            }
            let first = await group.next() ?? Outcome(state: "failed", error: "the run did not finish")
            group.cancelAll()
            return first
        }
    }

    func transition(_ requestID: String, module: any MeasurementModule, state: String) -> ResultMessage {
        ResultMessage(
            requestID: requestID, agentID: id, module: module.spec.name, moduleVersion: module.spec.version, state: state,
            atMilliseconds: Self.now(), agentStartedAtMilliseconds: startedAtMilliseconds, agentVersion: IMNVersion.current)
    }

    func record(_ message: ResultMessage) {
        do {
            try outbox.enqueue(message, headers: .tracing())
        } catch {
            logger.error("outbox write failed; transition lost", metadata: ["nats.msg_id": "\(message.messageID)", "error": "\(error)"])
        }
    }

    static func now() -> Int64 { Date.nowMilliseconds }
}

/// A control request on `imn.ctl.<agent>`.
struct ControlRequest: Codable {
    var action: String
    var module: String
}

struct ControlReply: Codable {
    var ok: Bool
    var message: String
}

extension AgentRuntime {
    /// enable / disable / reload a module.
    func serveControl(_ connection: NATSConnection) async throws {
        let requests = try connection.subscribe(to: Subjects.control(agent: id))
        for await message in requests {
            let answer: ControlReply
            if let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(message.payload)) {
                answer = control(request)
            } else {
                answer = ControlReply(ok: false, message: "expected {\"action\": \"enable|disable|reload\", \"module\": …}")
            }
            if let replyTo = message.replyTo, let body = try? JSONEncoder().encode(answer) {
                try? connection.publish(replyTo, payload: Array(body))
            }
        }
    }

    func control(_ request: ControlRequest) -> ControlReply {
        switch request.action {
        case "enable", "disable":
            let enabled = request.action == "enable"
            guard modules.setEnabled(request.module, enabled) else { return ControlReply(ok: false, message: "no module \(request.module)") }
            logger.info("module \(request.action)d", metadata: ["module": "\(request.module)"])
            return ControlReply(ok: true, message: "\(request.module) \(request.action)d")
        case "reload":
            guard let spec = modules.specs.first(where: { $0.name == request.module }) else {
                return ControlReply(ok: false, message: "no module \(request.module)")
            }
            // Built-in modules are part of the binary: there is nothing to read again.
            guard spec.external, let watcher else { return ControlReply(ok: true, message: "\(request.module) is built in; nothing to reload") }
            watcher.rescan()
            return ControlReply(ok: true, message: "manifests of \(watcher.directory.path) are being read again")
        default:
            return ControlReply(ok: false, message: "unknown action \(request.action) (enable, disable, reload)")
        }
    }
}
