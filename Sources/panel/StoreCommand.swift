import ArgumentParser
import Foundation
import PanelEngine
import PanelPostgres
import PanelStore

/// `panel store …`: moving a store's history.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Manage stores: copy a SQLite store's history into PostgreSQL.", subcommands: [Copy.self])

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a SQLite store's history (cache, jobs, items, results, document names) into a PostgreSQL store.",
            discussion: """
                Rows already in the destination are left as they are, so a copy can be run again (it adds only what is \
                new). Leases and budget reservations are not copied: run it while no batch is running on the source.

                Example:
                  panel store copy --from .panel/panel.sqlite --to postgres://panel@db.internal/reviews
                """)

        @Option(help: ArgumentHelp("The SQLite store to copy from.", valueName: "PATH"))
        var from: String = PanelStore.defaultPath

        @Option(help: ArgumentHelp("The PostgreSQL store to copy into: postgres://USER[:PASSWORD]@HOST[:PORT]/DB.", valueName: "URL"))
        var to: String

        func validate() throws {
            guard PostgresLocation.isURL(to) else { throw ValidationError("--to must be a postgres:// URL") }
            guard FileManager.default.fileExists(atPath: from) else { throw ValidationError("--from \(from): no such store") }
        }

        func run() async throws {
            let log = Diagnostics(verbose: false, quiet: false)
            let source: PanelStore
            let destination: PostgresStore
            do {
                source = try PanelStore(path: from)
                destination = try await PostgresStore.open(url: to)
            } catch {
                log.error("\(error)")
                throw PanelExit.usage
            }
            var lines: [String] = []
            do {
                for table in StoreTable.all {
                    var read = 0
                    var added = 0
                    var page = 0
                    while true {
                        let rows = try source.rows(of: table, after: page)
                        if rows.isEmpty { break }
                        read += rows.count
                        added += try await destination.insert(rows, into: table)
                        page += 1
                    }
                    lines.append("\(table.name): \(added) copied, \(read - added) already there")
                }
            } catch {
                log.error("copying into \(destination.location): \(error)")
                await destination.close()
                throw PanelExit.nothingProduced
            }
            await destination.close()
            log.write((["copied \(from) into \(destination.location):"] + lines.map { "  " + $0 }).joined(separator: "\n"))
        }
    }
}
