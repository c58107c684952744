import Foundation
import ModelBackends
import PanelKit
import Testing

@testable import PanelEngine

struct PanelConfigurationTests {
    @Test func rateLimitsAreReadAndChecked() throws {
        let configuration = try PanelConfiguration.parse(
            "backends:\n  - {name: a, kind: openai, model: m, rate_limit: {rpm: 60, tpm: 90000}}\n", source: "p.yaml")
        #expect(configuration.backends[0].rateLimit == RateLimit(requestsPerMinute: 60, tokensPerMinute: 90000))
        #expect(throws: ConfigurationError.self) {
            try PanelConfiguration.parse("backends:\n  - {name: a, kind: openai, model: m, rate_limit: {}}\n", source: "p.yaml")
        }
        do {
            _ = try PanelConfiguration.parse("backends:\n  - {name: a, kind: openai, model: m, rate_limit: {rpm: 0}}\n", source: "p.yaml")
            Issue.record("rpm 0 was accepted")
        } catch {
            #expect(error.description.contains("backends[0].rate_limit.rpm"), "\(error)")
        }
    }

    func parse(_ text: String) throws(ConfigurationError) -> PanelConfiguration {
        try PanelConfiguration.parse(text, source: "panel.yaml")
    }

    @Test func theExampleParses() throws {
        let configuration = try PanelConfiguration.load(path: packageRoot.appendingPathComponent("fixtures/configs/example.yaml").path)
        #expect(configuration.backends.map(\.name) == ["mini", "claude", "local"])
        #expect(configuration.backendName(for: "founder") == "claude")
        #expect(configuration.backendName(for: "builder") == "mini")
        #expect(configuration.quorum == 3)
        let claude = try #require(configuration.backend(named: "claude"))
        #expect(claude.kind == .anthropic)
        #expect(claude.baseURL == "https://api.anthropic.com")  // the kind's default
        #expect(claude.price == Price(inputPerMTok: 1, outputPerMTok: 5))
        #expect(configuration.backend(named: "local")?.isLocal == true)
        #expect(configuration.backend(named: "mini")?.maxConcurrency == 16)
    }

    static let errors: [(String, String, String)] = [
        ("backends:\n  - name: a\n    kind: openai\n    modle: x\n", "backends[0].modle", "did you mean 'model'"),
        ("backends:\n  - {name: a, kind: openai, model: m}\n  - {name: a, kind: ollama, model: m}\n", "backends[1].name", "unique"),
        (
            "backends:\n  - {name: a, kind: openai, model: m}\npanel:\n  personas:\n    founder: {backend: b}\n",
            "panel.personas.founder.backend", "no backend is named 'b'"
        ),
        ("backends:\n  - {name: a, kind: openai, model: m}\npanel: {backend: zz}\n", "panel.backend", "no backend is named 'zz'"),
        ("backends:\n  - {name: a, kind: bard, model: m}\n", "backends[0].kind", "not a backend kind"),
        ("backends:\n  - {name: a, kind: azure, model: m}\n", "backends[0].base_url", "is required"),
        ("backends:\n  - {name: a, kind: openai}\n", "backends[0].model", "is required"),
        (
            "backends:\n  - {name: a, kind: openai, model: m, token_limit_field: max_toks}\n", "backends[0].token_limit_field",
            "max_tokens or"
        ),
        (
            "backends:\n  - {name: a, kind: ollama, model: m, token_limit_field: max_tokens}\n", "backends[0].token_limit_field",
            "openai and azure"
        ),
        ("backends:\n  - {name: a, kind: openai, model: m, drop_params: [top_k]}\n", "backends[0].drop_params[0]", "unknown parameter"),
        ("backends:\n  - {name: a, kind: openai, model: m, drop_params: temperature}\n", "backends[0].drop_params", "must be a list"),
        (
            "backends:\n  - {name: a, kind: openai, model: m, api_key_env: sk-12345}\n", "backends[0].api_key_env",
            "name of an environment variable"
        ),
        ("backends:\n  - {name: a, kind: openai, model: m, max_concurrency: lots}\n", "backends[0].max_concurrency", "whole number"),
        ("backends:\n  - {name: a, kind: openai, model: m, price: {input_per_mtok: 1}}\n", "backends[0].price", "output_per_mtok"),
        ("backends: []\n", "backends", "is required"),
        (
            "backends:\n  - {name: a, kind: openai, model: m}\nteam: {approve_contradicted: maybe}\n", "team.approve_contradicted",
            "confirm or refuse"
        ),
        ("backends:\n  - {name: a, kind: openai, model: m}\nteam: {approve: refuse}\n", "team.approve", "unknown"),
        ("backends:\n  - {name: a, kind: openai, model: m}\npublication: {name: X, url: ftp://x}\n", "publication.url", "http(s) URL"),
        ("backends:\n  - {name: a, kind: openai, model: m}\npanel: {claims: {check: maybe}}\n", "panel.claims.check", "rules or model"),
        (
            "backends:\n  - {name: a, kind: openai, model: m}\npanel: {claims: {check: model, backend: b}}\n", "panel.claims.backend",
            "no backend is named 'b'"
        ),
        ("backend:\n  - {name: a}\n", "backend", "did you mean 'backends'"),
        // Kind-specific settings are read by their kind: another kind's key is named as such.
        ("backends:\n  - {name: a, kind: openai, model: m, deployment: d}\n", "backends[0].deployment", "setting of azure backends"),
        (
            "backends:\n  - {name: a, kind: anthropic, model: m, api_key_env: K, anthropic_version: latest}\n",
            "backends[0].anthropic_version", "date version"
        ),
        (
            "backends:\n  - {name: a, kind: gemini, model: m, api_key_env: K, api_key_style: cookie}\n", "backends[0].api_key_style",
            "header or query"
        ),
    ]

    @Test(arguments: errors)
    func errorsNameTheKeyPath(_ expected: (yaml: String, path: String, problem: String)) {
        do {
            _ = try parse(expected.yaml)
            Issue.record("parsed \(expected.yaml)")
        } catch {
            #expect(error.file == "panel.yaml")
            #expect(error.path == expected.path, "\(error)")
            #expect(error.problem.contains(expected.problem), "\(error)")
        }
    }

    @Test func theTeamsApprovalPolicyIsRead() throws {
        #expect(try parse("backends:\n  - {name: a, kind: openai, model: m}\n").approveContradicted == .confirm)
        let refuse = try parse("backends:\n  - {name: a, kind: openai, model: m}\nteam: {approve_contradicted: refuse}\n")
        #expect(refuse.approveContradicted == .refuse)
        let published = try parse(
            "backends:\n  - {name: a, kind: openai, model: m}\npublication: {name: Reviews, url: \"https://r.example/\"}\npanel: {claims: {check: model}}\n"
        )
        #expect(published.publicationName == "Reviews" && published.publicationURL == "https://r.example")
        #expect(published.claimCheckBackend == "a")
    }

    @Test func parameterNegotiationSettings() throws {
        let configuration = try PanelConfiguration.parse(
            """
            backends:
              - {name: o, kind: openai, model: gpt-5, token_limit_field: max_completion_tokens, drop_params: [temperature]}
              - {name: c, kind: azure, base_url: "https://r.openai.azure.com", deployment: d, api_key_env: K, drop_params: [temperature]}
            """, source: "p.yaml")
        #expect(configuration.backends[0].tokenLimitField == .maxCompletionTokens && configuration.backends[0].dropParams == [.temperature])
        #expect(configuration.backends[1].tokenLimitField == nil && configuration.backends[1].dropParams == [.temperature])
        #expect(throws: ConfigurationError.self) {
            try PanelConfiguration.parse(
                "backends:\n  - {name: c, kind: anthropic, model: m, api_key_env: K, drop_params: [temperature]}\n", source: "p.yaml")
        }
    }

    @Test func keysComeFromTheEnvironment() throws {
        let configuration = try parse(
            """
            backends:
              - {name: remote, kind: anthropic, model: m, api_key_env: PANEL_T_ANTHROPIC}
              - {name: local, kind: openai, base_url: "http://127.0.0.1:8080/v1", model: m, api_key_env: PANEL_T_LOCAL}
            """)
        let missing = #expect(throws: ConfigurationError.self) { try configuration.resolveKeys(environment: [:]) }
        #expect(missing?.path == "backends[0].api_key_env")
        #expect(missing?.problem.contains("PANEL_T_ANTHROPIC") == true)
        let keys = try configuration.resolveKeys(environment: ["PANEL_T_ANTHROPIC": "sk-ant-xyz"])
        #expect(keys == ["remote": "sk-ant-xyz"])  // the local backend may go without
    }

    @Test func remoteKeyedKindsMustNameAVariable() throws {
        let configuration = try parse("backends:\n  - {name: g, kind: gemini, model: gemini-2.0-flash}\n")
        let error = #expect(throws: ConfigurationError.self) { try configuration.resolveKeys(environment: [:]) }
        #expect(error?.problem.contains("needs an API key") == true)
    }
}
