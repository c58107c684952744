import Foundation
import MockProvider
import Testing

/// Every command the manual documents is registered: each `## \`panel …\`` heading of docs/commands.md is
/// invoked on the built binary (its subcommands too), and the two that were once written but never
/// registered, `calibrate` and `audit`, run for real.
@Suite(.timeLimit(.minutes(5)))
struct DocumentedCommandsTests {
    let cli = PanelCLITests()

    /// The command paths docs/commands.md documents: `panel jobs list | status NAME | …` gives `jobs list`,
    /// `jobs status`, … ; `panel review LISTING...` gives `review`.
    static func documentedCommands() throws -> [[String]] {
        let page = try String(
            contentsOf: PanelCLITests.root.appendingPathComponent("docs/commands.md"), encoding: .utf8)
        var commands: [[String]] = []
        for line in page.split(separator: "\n") where line.hasPrefix("## `panel ") {
            let usage = line.dropFirst("## `panel ".count).prefix { $0 != "`" }
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

    @Test func everyDocumentedCommandIsRegistered() async throws {
        let commands = try Self.documentedCommands()
        #expect(commands.contains(["calibrate"]) && commands.contains(["audit"]) && commands.contains(["jobs", "cancel"]))
        #expect(commands.count >= 16, "docs/commands.md's command headings were not found: \(commands)")
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

    /// README is the front page (about 200 lines) and the reference lives in docs/: every page there is
    /// linked from README, and every relative link of README and the docs pages names a file that exists.
    @Test func theManualIsAFrontPageWithLinkedReferencePages() throws {
        let root = PanelCLITests.root
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.split(separator: "\n", omittingEmptySubsequences: false).count <= 220, "README.md grew past a front page")
        let docs = root.appendingPathComponent("docs")
        let pages = try FileManager.default.contentsOfDirectory(atPath: docs.path).filter { $0.hasSuffix(".md") }.sorted()
        #expect(pages.count >= 8, "\(pages)")
        for page in pages {
            #expect(readme.contains("](docs/\(page))"), "README does not link docs/\(page)")
        }
        let link = /\]\(([^)\s]+)\)/
        for (file, base) in [("README.md", root)] + pages.map({ ("docs/\($0)", docs) }) {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            for match in text.matches(of: link) {
                let target = String(match.1)
                guard !target.contains("://"), !target.hasPrefix("#"), !target.hasPrefix("javascript:"),
                    !target.hasPrefix("mailto:")
                else { continue }
                let path = String(target.prefix { $0 != "#" })
                #expect(
                    FileManager.default.fileExists(atPath: base.appendingPathComponent(path).standardizedFileURL.path),
                    "\(file) links \(target), which does not exist")
            }
        }
    }
}
