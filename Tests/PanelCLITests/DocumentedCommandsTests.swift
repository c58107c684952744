import Foundation
import MockProvider
import Testing

/// Every command the manual documents is registered: each `### \`panel …\`` heading of README.md is
/// invoked on the built binary (its subcommands too), and the two that were once written but never
/// registered, `calibrate` and `audit`, run for real.
struct DocumentedCommandsTests {
    let cli = PanelCLITests()

    /// The command paths README documents: `panel jobs list | status NAME | …` gives `jobs list`,
    /// `jobs status`, … ; `panel review LISTING...` gives `review`.
    static func documentedCommands() throws -> [[String]] {
        let readme = try String(contentsOf: PanelCLITests.root.appendingPathComponent("README.md"), encoding: .utf8)
        var commands: [[String]] = []
        for line in readme.split(separator: "\n") where line.hasPrefix("### `panel ") {
            let usage = line.dropFirst("### `panel ".count).prefix { $0 != "`" }
            let words = usage.split(separator: " ")
            guard let name = words.first.map(String.init) else { continue }
            // Alternatives spaced as ` | ` after a lower-case word are subcommands (`list | status NAME | export …`);
            // `markdown|html` is an option's values and `DOC.json` an argument.
            let rest = usage.dropFirst(name.count).components(separatedBy: " | ").map {
                $0.split(separator: " ").first.map(String.init) ?? ""
            }
            let isWord = { (word: String) in !word.isEmpty && word.allSatisfy { $0.isLowercase && $0.isLetter } }
            let subcommands = isWord(rest.first ?? "") ? rest.filter(isWord) : []
            if subcommands.isEmpty {
                commands.append([name])
            } else {
                commands += subcommands.map { [name, $0] }
            }
        }
        return commands
    }

    @Test func everyCommandReadmeDocumentsIsRegistered() async throws {
        let commands = try Self.documentedCommands()
        #expect(commands.contains(["calibrate"]) && commands.contains(["audit"]) && commands.contains(["jobs", "cancel"]))
        #expect(commands.count >= 16, "README's command headings were not found: \(commands)")
        for command in commands {
            let result = try await cli.panel(command + ["--help"])
            #expect(result.code == 0, "panel \(command.joined(separator: " ")) --help: \(result.stderr)")
            #expect(result.stdout.contains("USAGE: panel \(command.joined(separator: " "))"), "panel \(command.joined(separator: " "))")
        }
    }

    @Test func calibrateRunsFromTheCommandLine() async throws {
        let out = try await TrustCLITests().fixtureBatch()
        let labels = try cli.temporaryFile(
            "labels.csv", "name,verdict,score\nOllama,ship,85\nLangfuse,skip,40\nVal Town,ship,70\nTemporal Cloud,skip,30\n")
        let result = try await cli.panel(["calibrate", "--labels", labels, out.path, "--minimum", "2"])
        #expect(result.code == 0, "\(result.stderr)")
        #expect(result.stdout.contains("persona") && result.stderr.contains("fitted"))
        let team = try await cli.panel([
            "calibrate", "--labels", labels, "--team", "--store", out.appendingPathComponent("none.sqlite").path,
        ])
        #expect(team.code != 0 && !team.stderr.contains("Unknown option"), "\(team.stderr)")
    }

    @Test(.timeLimit(.minutes(5))) func auditRunsFromTheCommandLine() async throws {
        try await MockProvider.withServer { mock in
            let result = try await cli.panel([
                "audit", PanelCLITests.mistral, "--base-url", mock.baseURL, "--model", "m", "--format", "json", "--store",
                FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).sqlite").path,
            ])
            #expect(result.code == 0, "\(result.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(!object.isEmpty)
        }
    }
}
