import ArgumentParser
import Foundation
import PanelRuntime

/// `panel jobs list|status`: what the store holds, from any machine that reaches it.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "List batch jobs in a store, show one job's state, export its documents or cancel it.",
        subcommands: [List.self, Status.self, Export.self, Cancel.self])

    /// The named job, or exit 2 saying where to find the names.
    static func job(_ name: String, in store: any ReviewStore, log: Diagnostics) async throws -> JobRecord {
        guard let job = try await store.job(name) else {
            log.error("no job named '\(name)' in \(store.location); panel jobs list shows the jobs there")
            throw PanelExit.usage
        }
        return job
    }

    /// The store, or exit 2 saying why it cannot be opened.
    static func open(_ option: StoreOption, log: Diagnostics) async throws -> any ReviewStore {
        do {
            return try await option.open(mustExist: true)
        } catch {
            log.error("\(error)")
            throw PanelExit.usage
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "Every job in the store, newest first, with its counts and spend.")
        @OptionGroup var store: StoreOption
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() async throws {
            let log = Diagnostics(verbose: false, quiet: false)
            let database = try await JobsCommand.open(store, log: log)
            var rows: [[String: JSONValue]] = []
            for job in try await database.jobs() {
                let counts = try await database.itemCounts(job: job.name)
                var row: [String: JSONValue] = [
                    "name": .string(job.name), "created_at": .string(job.createdAt), "spent_usd": .double(job.spentUSD),
                ]
                for status in BatchItem.Status.allCases { row[status.rawValue] = .int(counts[status] ?? 0) }
                rows.append(row)
            }
            if json {
                print(JSONValue.array(rows.map(JSONValue.object)).prettyText(), terminator: "")
                return
            }
            guard !rows.isEmpty else {
                print("no jobs in \(database.location)")
                return
            }
            var lines = ["JOB                      CREATED (UTC)        COMPLETE  PARTIAL  FAILED  PENDING  SPENT"]
            for row in rows {
                let text = row["name"]?.stringValue ?? ""
                let name = text.padding(toLength: max(24, text.count), withPad: " ", startingAt: 0)
                lines.append(
                    name + " " + (row["created_at"]?.stringValue ?? "").padding(toLength: 19, withPad: " ", startingAt: 0)
                        + String(
                            format: "  %8d %8d %7d %8d  $%.4f", row["complete"]?.intValue ?? 0, row["partial"]?.intValue ?? 0,
                            row["failed"]?.intValue ?? 0, row["pending"]?.intValue ?? 0, row["spent_usd"]?.numberValue ?? 0))
            }
            print(TerminalText.safe(lines.joined(separator: "\n"), singleLine: false))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "One job: counts by status, spend, and every listing that failed or is partial, with the reason.")
        @Argument(help: "The job's name (panel batch prints it; --job chooses it).") var name: String
        @OptionGroup var store: StoreOption
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let log = Diagnostics(verbose: false, quiet: false)
            let database = try await JobsCommand.open(store, log: log)
            let job = try await JobsCommand.job(name, in: database, log: log)
            let counts = try await database.itemCounts(job: name)
            let spent = try await database.spent(job: name)
            var problems: [[String: JSONValue]] = []
            try await database.forEachItem(job: name) { item in
                guard item.status == .failed || item.status == .partial else { return }
                let error = item.error ?? (item.status == .partial ? "\(item.outcome.answered ?? 0) of the personas answered" : nil)
                problems.append([
                    "key": .string(item.key), "name": item.name.map(JSONValue.string) ?? .null, "status": .string(item.status.rawValue),
                    "error": error.map(JSONValue.string) ?? .null,
                ])
            }
            if json {
                var object: [String: JSONValue] = [
                    "name": .string(name), "spent_usd": .double(spent), "budget_usd": job.budgetUSD.map(JSONValue.double) ?? .null,
                    "cancelled": .bool(job.cancelled), "problems": .array(problems.map(JSONValue.object)),
                ]
                for status in BatchItem.Status.allCases { object[status.rawValue] = .int(counts[status] ?? 0) }
                print(JSONValue.object(object).prettyText(), terminator: "")
                return
            }
            var lines = [
                "job \(name) in \(database.location)\(job.cancelled ? " — cancelled" : "")",
                BatchItem.Status.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: " · ")
                    + String(format: " · $%.4f spent", spent) + (job.budgetUSD.map { String(format: " of $%.4f", $0) } ?? ""),
            ]
            for problem in problems {
                let label = problem["name"]?.stringValue ?? problem["key"]?.stringValue ?? ""
                let error = problem["error"]?.stringValue ?? ""
                // A bad row's reason already names its file and line.
                lines.append("  \(problem["status"]?.stringValue ?? ""): " + (error.hasPrefix(label) ? error : "\(label) — \(error)"))
            }
            print(TerminalText.safe(lines.joined(separator: "\n"), singleLine: false))
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a job's documents and summary.json, kept in the store, to a directory — as panel batch writes them.")
        @Argument(help: "The job's name.") var name: String
        @Option(help: ArgumentHelp("Directory for the documents and summary.json.", valueName: "DIR")) var out: String
        @Option(help: "Document formats (repeatable; default: the job's).") var format: [OutputFormat] = []
        @OptionGroup var store: StoreOption

        func run() async throws {
            let log = Diagnostics(verbose: false, quiet: false)
            let database = try await JobsCommand.open(store, log: log)
            let export = JobExport(store: database, job: try await JobsCommand.job(name, in: database, log: log))
            let sink = DirectorySink(path: out)
            do {
                _ = try sink.prepare()
                try BatchDriver.checkSummaryFile(in: sink)
            } catch {
                log.error("\(error)")
                throw PanelExit.usage
            }
            let (written, summary) = try await export.write(
                formats: format.isEmpty ? export.formats : format.map(\.documentFormat), to: sink)
            log.write(
                "wrote \(written) document(s) and summary.json to \(out): \(summary.complete) complete, \(summary.partial) partial, \(summary.failed) failed, \(summary.notStarted) not finished"
            )
            throw summary.allComplete ? PanelExit.allAnswered : PanelExit.someAbstained
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cancel",
            abstract: "Stop new claims of a job's listings; those in flight finish. panel batch on the job again resumes it.")
        @Argument(help: "The job's name.") var name: String
        @OptionGroup var store: StoreOption

        func run() async throws {
            let log = Diagnostics(verbose: false, quiet: false)
            let database = try await JobsCommand.open(store, log: log)
            guard try await database.cancelJob(name) else {
                log.error("no job named '\(name)' in \(database.location); panel jobs list shows the jobs there")
                throw PanelExit.usage
            }
            let open = try await database.itemCounts(job: name)[.pending] ?? 0
            log.write("job \(name) cancelled: no new claims; \(open) listing(s) left unfinished (in-flight ones finish)")
        }
    }
}
