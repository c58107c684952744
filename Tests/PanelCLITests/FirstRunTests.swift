import Foundation
import MockProvider
import Testing

/// A newcomer's first commands: no configuration, a provider's variables or a local server, `panel
/// init`, `--version`, a listing on standard input.
extension PanelCLITests {
    @Test func aFirstRunUsesTheOpenAIVariablesWithoutAConfig() async throws {
        let key = "sk-first-run-4b1f9a2c8d"
        try await MockProvider.withServer(MockProviderConfiguration()) { handle in
            let result = try await panel(
                ["review", Self.azure, "--format", "json"], environment: ["OPENAI_BASE_URL": handle.baseURL, "OPENAI_API_KEY": key],
                unset: Self.providerVariables)
            #expect(result.code == 0, "\(result.stderr)")
            #expect(result.stderr.contains("using backend '127.0.0.1'"), "\(result.stderr)")
            #expect(result.stderr.contains("OPENAI_API_KEY and OPENAI_BASE_URL are set"))
            #expect(!result.stderr.contains(key) && !result.stdout.contains(key))
            let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let reviews = try #require((document["tools"] as? [[String: Any]])?.first?["reviews"] as? [[String: Any]])
            #expect(reviews.count == 4 && reviews.allSatisfy { $0["status"] as? String == "answered" })
            #expect(handle.stats.snapshot.chatRequests == 4)
        }
    }

    @Test func withNothingConfiguredTheErrorListsWhatWasTried() async throws {
        for command in [["review", Self.azure], ["route", Self.azure]] {
            let result = try await panel(command, unset: Self.providerVariables)
            #expect(result.code == 2, "\(command): \(result.stderr)")
            for tried in [
                "OPENAI_API_KEY: not set", "ANTHROPIC_API_KEY: not set", "GEMINI_API_KEY", "AZURE_OPENAI_ENDPOINT",
                "Ollama on 127.0.0.1:11434",
            ] {
                #expect(result.stderr.contains(tried), "\(command) does not say it tried \(tried): \(result.stderr)")
            }
            #expect(result.stderr.contains("panel init") && result.stderr.contains("--base-url URL --model NAME"))
        }
    }

    @Test func initWritesAConfigThatBackendsCheckAccepts() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("panel-init-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = "sk-init-test-90af7e"
        try await MockProvider.withServer(MockProviderConfiguration()) { handle in
            let environment = ["OPENAI_BASE_URL": handle.baseURL, "OPENAI_API_KEY": key]
            let written = try await panel(["init"], environment: environment, unset: Self.providerVariables, directory: dir)
            #expect(written.code == 0, "\(written.stderr)")
            let text = try String(contentsOf: dir.appendingPathComponent("panel.yaml"), encoding: .utf8)
            #expect(text.contains("api_key_env: OPENAI_API_KEY") && !text.contains(key))
            #expect(text.contains("# - name: claude") && text.contains("#   kind: gemini") && text.contains("#   kind: azure"))
            let checked = try await panel(["backends", "--check"], environment: environment, unset: Self.providerVariables, directory: dir)
            #expect(checked.code == 0, "\(checked.stderr)")
            #expect(checked.stdout.contains("ok"))
            // With panel.yaml present, review uses it (and says nothing about detection).
            let reviewed = try await panel(["review", Self.azure, "-o", "r.md"], environment: environment, directory: dir)
            #expect(reviewed.code == 0, "\(reviewed.stderr)")
            #expect(!reviewed.stderr.contains("using backend"))
            let again = try await panel(["init"], environment: environment, unset: Self.providerVariables, directory: dir)
            #expect(again.code == 2 && again.stderr.contains("--force"))
            let forced = try await panel(["init", "--force", "--template"], unset: Self.providerVariables, directory: dir)
            #expect(forced.code == 0, "\(forced.stderr)")
            let template = try String(contentsOf: dir.appendingPathComponent("panel.yaml"), encoding: .utf8)
            #expect(template.contains("kind: ollama") && template.contains("#   kind: openai"))
            let listed = try await panel(["backends"], unset: Self.providerVariables, directory: dir)
            #expect(listed.code == 0, "\(listed.stderr)")
        }
    }

    @Test func versionIsPrinted() async throws {
        let result = try await panel(["--version"])
        #expect(result.code == 0)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3, "\(result.stdout)")
    }

    @Test func aListingOnStandardInput() async throws {
        for listing in [
            "name: Piped Tool\ndescription: Read from standard input as YAML.\n",
            "---\nname: Piped Tool\n---\nRead from standard input as Markdown.\n",
            #"{"name": "Piped Tool", "description": "Read from standard input as JSON."}"#,
        ] {
            try await MockProvider.withServer(MockProviderConfiguration()) { handle in
                let result = try await panel(
                    ["review", "-", "--base-url", handle.baseURL, "--model", "m", "--format", "json"], stdin: listing)
                #expect(result.code == 0, "\(listing): \(result.stderr)")
                #expect(
                    result.stdout.contains(#""name" : "Piped Tool""#) || result.stdout.contains(#""name": "Piped Tool""#),
                    "\(result.stdout.prefix(300))")
            }
        }
        let bad = try await panel(["review", "-", "--replay", Self.recordings], stdin: "tagline: no name\n")
        #expect(bad.code == 2 && bad.stderr.contains("standard input"), "\(bad.stderr)")
        let twice = try await panel(["review", "-", "-", "--replay", Self.recordings], stdin: "name: x\ndescription: y\n")
        #expect(twice.code == 2)
    }
}
