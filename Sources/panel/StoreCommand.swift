import ArgumentParser
import Foundation
import PanelRuntime

/// `panel store …`: moving a store's history.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Manage stores: copy a SQLite store's history into PostgreSQL.", subcommands: [Copy.self])

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "copy",
            abstract: "Copy a SQLite store's history (cache, jobs, items, results, document names) into a PostgreSQL store.",
            discussion: """
                Rows already in the destination are left as they are, so a copy can be run again (it adds only what is \
                new). Leases and budget reservations are not copied: run it while no batch is running on the source.

                Example:
                  panel store copy --from .panel/panel.sqlite --to postgres://panel@db.internal/reviews
                """)

        @Option(help: ArgumentHelp("The SQLite store to copy from.", valueName: "PATH"))
        var from: String = Stores.defaultPath

        @Option(help: ArgumentHelp("The PostgreSQL store to copy into: postgres://USER[:PASSWORD]@HOST[:PORT]/DB.", valueName: "URL"))
        var to: String

        func validate() throws {
            guard Stores.isPostgres(to) else { throw ValidationError("--to must be a postgres:// URL") }
            guard FileManager.default.fileExists(atPath: from) else { throw ValidationError("--from \(from): no such store") }
        }

        func run() async throws {
            let log = Diagnostics(verbose: false, quiet: false)
            let destination: String
            let lines: [String]
            do {
                (destination, lines) = try await Stores.copy(from: from, to: to)
            } catch {
                log.error("\(error)")
                throw error.copying ? PanelExit.nothingProduced : PanelExit.usage
            }
            log.write((["copied \(from) into \(destination):"] + lines.map { "  " + $0 }).joined(separator: "\n"))
        }
    }
}
