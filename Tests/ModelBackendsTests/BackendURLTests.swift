import Testing

@testable import ModelBackends

struct BackendURLTests {
    @Test func pathsGoBeforeTheQuery() {
        #expect(BackendURL.join("http://h/v1?key=k", "/chat/completions") == "http://h/v1/chat/completions?key=k")
        #expect(BackendURL.join("http://h/v1/", "/chat/completions") == "http://h/v1/chat/completions")
        #expect(
            BackendURL.join("https://g.example?key=k", "/v1beta/models/m:streamGenerateContent?alt=sse")
                == "https://g.example/v1beta/models/m:streamGenerateContent?alt=sse&key=k")
        #expect(
            BackendConfiguration.azureEndpoint(baseURL: "https://r.example/?sig=s", AzureOptions(deployment: "d"))
                == "https://r.example/openai/deployments/d/chat/completions?api-version=2024-10-21&sig=s")
    }

    @Test func secretsInURLsAreMaskedAndKnown() {
        let url = "http://user:pw-secret-123@h:8080/v1?key=sk-query-secret-1&x=1"
        let shown = BackendURL.redacted(url)
        #expect(shown == "http://[redacted]@h:8080/v1?key=[redacted]&x=[redacted]")
        #expect(!shown.contains("pw-secret-123") && !shown.contains("sk-query-secret-1"))
        #expect(Set(BackendURL.secrets(in: url)) == ["user:pw-secret-123", "pw-secret-123", "sk-query-secret-1", "1"])
        #expect(BackendURL.redacted("https://api.openai.com/v1") == "https://api.openai.com/v1")
        // Short values (the "1" above) are below what a Redactor masks; keys are long.
        #expect(Redactor(secrets: BackendURL.secrets(in: url)).redact("got sk-query-secret-1") == "got [redacted]")
    }
}
