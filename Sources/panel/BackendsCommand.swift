import ArgumentParser
import Foundation
import PanelRuntime

struct BackendsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backends",
        abstract: "List the configured backends; --check probes each with a tiny request.",
        discussion: """
            Reads --config FILE or panel.yaml in the working directory. Keys are read from the environment \
            variables the configuration names and are never printed.

            Examples:
              panel backends
              panel backends --check --config fixtures/configs/example.yaml
            """
    )

    @Option(help: ArgumentHelp("Configuration file (default: panel.yaml).", valueName: "FILE"))
    var config: String?

    @Flag(help: "Send each backend a tiny request and report status, latency and the model it reports.")
    var check = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        let log = Diagnostics(verbose: false, quiet: false)
        let configuration: PanelConfiguration
        do {
            configuration = try PanelConfiguration.load(path: config ?? PanelConfiguration.fileName)
        } catch {
            log.error("\(error)")
            throw PanelExit.usage
        }
        let environment = ProcessInfo.processInfo.environment
        var rows: [[String: String]] = []
        var failures = 0
        await withTaskGroup(of: (Int, [String: String], Bool).self) { group in
            for (index, backend) in configuration.backends.enumerated() {
                group.addTask {
                    var row: [String: String] = [
                        "name": backend.name, "kind": backend.kind.rawValue, "model": backend.model,
                        "base_url": BackendURL.redacted(backend.baseURL),
                        "key": backend.apiKeyEnv.map { environment[$0]?.isEmpty == false ? "$\($0) set" : "$\($0) NOT SET" } ?? "none",
                        "price": backend.price.map { "\($0.inputPerMTok)/\($0.outputPerMTok) per Mtok" } ?? "unknown",
                        "used_by": usedBy(backend.name, configuration),
                    ]
                    guard check else { return (index, row, true) }
                    let key = backend.apiKeyEnv.flatMap { environment[$0] }
                    let adapter = backend.makeAdapter(apiKey: key)
                    let probe = ChatRequest(messages: [.user("Reply with the single word: ok")], temperature: 0, maxOutputTokens: 5)
                    let start = ContinuousClock.now
                    do {
                        let response = try await adapter.complete(probe)
                        row["status"] = "ok"
                        row["latency_ms"] = String((ContinuousClock.now - start).milliseconds)
                        row["reported_model"] = response.model ?? "?"
                        return (index, row, true)
                    } catch let error as BackendError {
                        row["status"] = "\(error.kind.rawValue)\(error.status.map { " (HTTP \($0))" } ?? "")"
                        row["error"] = error.description
                        return (index, row, false)
                    } catch {
                        row["status"] = "error"
                        row["error"] = "\(error)"
                        return (index, row, false)
                    }
                }
            }
            var collected: [(Int, [String: String])] = []
            for await (index, row, ok) in group {
                collected.append((index, row))
                if !ok { failures += 1 }
            }
            rows = collected.sorted { $0.0 < $1.0 }.map(\.1)
        }
        if json {
            print(JSONValue.array(rows.map { .object($0.mapValues(JSONValue.string)) }).prettyText(), terminator: "")
        } else {
            var columns = ["name", "kind", "model", "base_url", "key", "price", "used_by"]
            if check { columns += ["status", "latency_ms", "reported_model"] }
            print(table(rows, columns: columns))
            for row in rows { if let error = row["error"] { log.error("\(row["name"] ?? ""): \(error)") } }
        }
        if failures > 0 { throw PanelExit.nothingProduced }
    }

    func usedBy(_ name: String, _ configuration: PanelConfiguration) -> String {
        var users = configuration.personaBackends.filter { $0.value == name }.map(\.key).sorted()
        if configuration.defaultBackend == name { users.insert("default", at: 0) }
        return users.isEmpty ? "-" : users.joined(separator: ",")
    }

    func table(_ rows: [[String: String]], columns: [String]) -> String {
        let widths = columns.map { column in max(column.count, rows.map { ($0[column] ?? "-").count }.max() ?? 0) }
        func line(_ values: [String]) -> String {
            zip(values, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        return ([line(columns.map { $0.uppercased() })] + rows.map { row in line(columns.map { row[$0] ?? "-" }) }).joined(separator: "\n")
    }
}
