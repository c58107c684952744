import ArgumentParser
import Foundation
import PanelRuntime
import PanelServer

/// `panel tokens create|list|revoke`: the team server's API tokens, in the store it serves from.
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "Make, list and revoke the team server's API tokens.",
        discussion: """
            A token is printed once, when it is made; the store keeps only its hash. Roles: viewer reads \
            reviews; editor also asks for, edits, overrides and approves them; admin also runs batches and \
            manages tokens. Scripts send it as Authorization: Bearer TOKEN; people paste it on the sign-in page.

            Examples:
              panel tokens create --role editor --name ann
              panel tokens create --role editor --name nightly-cms --budget-usd 20 --store postgres://panel@db/panel
              panel tokens list
              panel tokens revoke ann
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Make a token and print it (once).")
        @OptionGroup var store: StoreOption
        @Option(help: "viewer, editor or admin.") var role: RoleArgument
        @Option(help: ArgumentHelp("Who or what holds it (default: the role and a random suffix).", valueName: "NAME")) var name: String?
        @Option(help: ArgumentHelp("Most it may spend on reviews, in USD (default: no limit).", valueName: "USD")) var budgetUsd: Double?
        @Option(
            help: ArgumentHelp(
                "The name published pages show for reviews this token approves (default: the publication's).", valueName: "NAME"))
        var displayName: String?

        func validate() throws {
            if let name, !TeamTokens.isValidName(name) {
                throw ValidationError("--name: 1-64 letters, digits, '.', '_', '-', '@' or spaces")
            }
            if let budgetUsd, !(budgetUsd.isFinite && budgetUsd >= 0) { throw ValidationError("--budget-usd must be a number, 0 or more") }
            if let displayName, !TeamTokens.isValidDisplayName(displayName) {
                throw ValidationError("--display-name: 1-100 characters, no control characters")
            }
        }

        func run() async throws {
            let log = Diagnostics(verbose: false, quiet: false)
            let database: any ReviewStore
            do {
                database = try await store.open()
            } catch {
                log.error("\(error)")
                throw PanelExit.usage
            }
            let name = self.name ?? "\(role.rawValue)-\(TeamTokens.randomText(4).lowercased())"
            do {
                let made = try await TeamTokens.create(
                    in: database, name: name, role: role.role, budgetUSD: budgetUsd, displayName: displayName)
                // The secret alone on stdout (for scripts: TOKEN=$(panel tokens create …)); the rest on stderr.
                print(made.secret)
                log.info(
                    "token \(made.token.id) '\(name)' (\(role.rawValue)\(budgetUsd.map { String(format: ", budget $%.2f", $0) } ?? "")) made in \(database.location); it is shown this once"
                )
            } catch {
                log.error("\(error)")
                throw PanelExit.usage
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "Every token: id, name, role, spend, budget, revoked (never a secret).")
        @OptionGroup var store: StoreOption
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() async throws {
            let log = Diagnostics(verbose: false, quiet: false)
            let database = try await JobsCommand.open(store, log: log)
            let tokens = try await database.tokens()
            if json {
                let rows: [JSONValue] = tokens.map {
                    .object([
                        "id": .string($0.id), "name": .string($0.name), "role": .string($0.role.rawValue),
                        "spent_usd": .double($0.spentUSD), "budget_usd": $0.budgetUSD.map(JSONValue.double) ?? .null,
                        "revoked": .bool($0.revoked), "created_at": .string(ISO8601DateFormatter().string(from: $0.createdAt)),
                    ])
                }
                print(JSONValue.array(rows).prettyText(), terminator: "")
                return
            }
            if tokens.isEmpty {
                log.write("no tokens in \(database.location); panel tokens create --role editor makes one")
                return
            }
            print("ID              NAME                  ROLE    SPENT       BUDGET      STATE")
            for token in tokens {
                let budget = token.budgetUSD.map { String(format: "$%.4f", $0) } ?? "-"
                print(
                    String(
                        format: "%@ %@ %@ %@ %@ %@", token.id.padding(toLength: 15, withPad: " ", startingAt: 0),
                        TerminalText.safe(token.name).padding(toLength: 21, withPad: " ", startingAt: 0),
                        token.role.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0),
                        String(format: "$%.4f", token.spentUSD).padding(toLength: 11, withPad: " ", startingAt: 0),
                        budget.padding(toLength: 11, withPad: " ", startingAt: 0), token.revoked ? "revoked" : "live"))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke", abstract: "Revoke a token by id or name; its sessions end at once.")
        @OptionGroup var store: StoreOption
        @Argument(help: ArgumentHelp("The token's id (tok_…) or name.", valueName: "ID|NAME")) var token: String

        func run() async throws {
            let log = Diagnostics(verbose: false, quiet: false)
            let database = try await JobsCommand.open(store, log: log)
            guard try await database.revokeToken(token) else {
                log.error("no live token '\(token)' in \(database.location); panel tokens list shows them")
                throw PanelExit.usage
            }
            log.write("revoked \(token)")
        }
    }
}

/// A role on the command line.
enum RoleArgument: String, ExpressibleByArgument, CaseIterable {
    case viewer, editor, admin

    var role: TeamRole { TeamRole(rawValue: rawValue) ?? .viewer }
}
