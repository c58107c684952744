import ArgumentParser
import Foundation
import MockProvider
import Synchronization

/// `panel-mock-provider`: an OpenAI-compatible chat server on 127.0.0.1 for demos, tests and benchmarks.
@main
struct MockProviderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "panel-mock-provider",
        abstract: "Serve OpenAI-compatible chat completions (plain and SSE) on 127.0.0.1 with latency and fault knobs.",
        discussion: """
            Examples:
              panel-mock-provider --port 8765 --latency-ms 800 --jitter-ms 200
              panel-mock-provider --port 0 --ready-file /tmp/port --fault-rate 0.3 --shape mixed
              panel-mock-provider --canned fixtures/answers/reference.json   # serve hand-written answers

            Then: panel review LISTING --base-url http://127.0.0.1:8080/v1 --model mock
            GET /_mock/stats reports the requests served.
            """
    )

    @Option(help: "Port to listen on (default 0: a free one, printed; a model server's usual port is left to model servers).")
    var port = 0

    @Option(help: "Address to listen on (default 127.0.0.1; another host's tests give the address of its interface).")
    var host = "127.0.0.1"

    @Option(help: "Latency of every answer, in milliseconds.")
    var latencyMs = 0.0

    @Option(help: "Extra random latency, uniform in 0…N milliseconds.")
    var jitterMs = 0.0

    @Option(help: "In streamed answers, a pause between chunks, in milliseconds (a model writing as it goes).")
    var chunkIntervalMs = 0.0

    @Option(help: "Asked the same request again, a generated score moves by up to ± N points (a model sampled twice; the verdict follows).")
    var sampleSpread = 0

    @Option(help: "Generated scores grow by N points per 100 characters of description (a length-biased judge).")
    var lengthBias = 0.0

    @Option(help: "Share of calls (0…1) that take --slow-factor times as long.")
    var slowRate = 0.0

    @Option(help: "How much slower a slow call is.")
    var slowFactor = 10.0

    @Flag(help: "Decide slow calls at random per attempt (seeded), not from the request body.")
    var slowPerAttempt = false

    @Option(help: "Share of calls (0…1) that fail, spread over --faults.")
    var faultRate = 0.0

    @Option(help: "Faults to inject: any of 429,500,503,reset,malformed,truncate.")
    var faults = "429,500,503,reset,malformed,truncate"

    @Option(help: "Most faults one request body receives before it succeeds.")
    var maxFaults = 2

    @Option(help: "Seconds asked for in Retry-After on a 429.")
    var retryAfter = 1

    @Option(help: "Shape of generated answers: \(MockProviderConfiguration.AnswerShape.allCases.map(\.rawValue).joined(separator: ", ")).")
    var shape = "json"

    @Option(help: "A JSON file of canned answers: [{persona, tool, text, repair?, model?}].")
    var canned: String?

    @Option(help: "Require this environment variable's value as the Bearer key.")
    var requireKeyEnv: String?

    @Option(help: "Request parameters the model refuses with a 400 naming them, e.g. max_tokens,temperature.")
    var rejectParams: String?

    @Option(help: "response_format types refused with a 400, e.g. json_schema (an older llama.cpp).")
    var rejectResponseFormats: String?

    @Option(
        help:
            "Append every chat request to this file as JSON Lines: {path, body, at} (as it arrives; the conformance and several-hosts checks read it)."
    )
    var capture: String?

    @Option(help: "Seed for faults, jitter and slow calls.")
    var seed: UInt64 = 1

    @Option(help: "Write the bound port to this file once listening.")
    var readyFile: String?

    func validate() throws {
        guard MockProviderConfiguration.AnswerShape(rawValue: shape) != nil else { throw ValidationError("unknown --shape \(shape)") }
        guard (0...1).contains(faultRate), (0...1).contains(slowRate) else { throw ValidationError("rates are between 0 and 1") }
        // Taken whole into durations and ports: out of range is refused, never trapped on or wrapped.
        for (name, value) in [("--latency-ms", latencyMs), ("--jitter-ms", jitterMs), ("--chunk-interval-ms", chunkIntervalMs)]
        where !(0...3_600_000).contains(value) {
            throw ValidationError("\(name) must be a number of milliseconds from 0 to 3600000")
        }
        guard (1...1000).contains(slowFactor) else { throw ValidationError("--slow-factor must be from 1 to 1000") }
        guard (0...100).contains(sampleSpread) else { throw ValidationError("--sample-spread must be from 0 to 100") }
        guard (0...100).contains(lengthBias) else { throw ValidationError("--length-bias must be from 0 to 100") }
        guard !host.isEmpty, host.utf8.count <= 255 else { throw ValidationError("--host must be an address to listen on, e.g. 127.0.0.1") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 (any free port) to 65535") }
        let known: Set<String> = ["429", "500", "503", "reset", "malformed", "truncate"]
        for fault in faults.split(separator: ",") where !known.contains(String(fault)) {
            throw ValidationError("unknown fault '\(fault)'; use \(known.sorted().joined(separator: ","))")
        }
    }

    func run() async throws {
        var configuration = MockProviderConfiguration()
        configuration.latency = .microseconds(Int64(latencyMs * 1000))
        configuration.jitter = .microseconds(Int64(jitterMs * 1000))
        configuration.streamChunkInterval = .microseconds(Int64(chunkIntervalMs * 1000))
        configuration.sampleSpread = sampleSpread
        configuration.lengthBias = lengthBias
        configuration.slowRate = slowRate
        configuration.slowFactor = slowFactor
        configuration.slowPerAttempt = slowPerAttempt
        configuration.maxFaultsPerRequest = maxFaults
        configuration.retryAfterSeconds = retryAfter
        configuration.shape = MockProviderConfiguration.AnswerShape(rawValue: shape) ?? .json
        configuration.seed = seed
        if let capture {
            guard FileManager.default.createFile(atPath: capture, contents: nil), let handle = FileHandle(forWritingAtPath: capture) else {
                throw ValidationError("--capture \(capture): cannot be written")
            }
            let file = Mutex(handle)
            configuration.onRequest = { path, body in
                let line: [String: Any] = ["path": path, "body": String(decoding: body, as: UTF8.self), "at": Date().timeIntervalSince1970]
                guard let data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) else { return }
                file.withLock {
                    $0.write(data)
                    $0.write(Data("\n".utf8))
                }
            }
        }
        configuration.rejectedParameters = Set((rejectParams ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        configuration.rejectedResponseFormats = Set(
            (rejectResponseFormats ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let kinds = faults.split(separator: ",").map(String.init)
        let each = kinds.isEmpty ? 0 : faultRate / Double(kinds.count)
        configuration.faults = .init(
            rateLimited: kinds.contains("429") ? each : 0, serverError: kinds.contains("500") ? each : 0,
            unavailable: kinds.contains("503") ? each : 0, connectionReset: kinds.contains("reset") ? each : 0,
            malformedBody: kinds.contains("malformed") ? each : 0, truncatedStream: kinds.contains("truncate") ? each : 0)
        if let canned {
            configuration.canned = try MockProviderConfiguration.loadCanned(from: URL(fileURLWithPath: canned))
        }
        if let requireKeyEnv {
            guard let key = ProcessInfo.processInfo.environment[requireKeyEnv], !key.isEmpty else {
                throw ValidationError("environment variable \(requireKeyEnv) is not set")
            }
            configuration.requiredKey = key
        }
        let readyFile = self.readyFile
        try await MockProvider.serve(configuration, host: host, port: port) { [host] bound in
            FileHandle.standardOutput.write(Data("panel-mock-provider listening on http://\(host):\(bound)/v1\n".utf8))
            if let readyFile { try? "\(bound)\n".write(toFile: readyFile, atomically: true, encoding: .utf8) }
        }
    }
}
