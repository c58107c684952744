import Foundation
import Testing

@testable import ModelBackends

/// Gemini's API version and its body-level retry delay.
struct GeminiWireTests {
    @Test func theAPIVersionIsV1UnlessV1BetaIsAsked() throws {
        let plain = GeminiBackend(.init(name: "g", model: "gemini-2.5-flash", apiKey: "k"))
        #expect(plain.url(stream: false) == "https://generativelanguage.googleapis.com/v1/models/gemini-2.5-flash:generateContent")
        let beta = GeminiBackend(.init(name: "g", model: "gemini-2.5-flash", apiKey: "k", apiVersion: "v1beta"))
        #expect(
            beta.url(stream: true).hasPrefix(
                "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent"))
        #expect(try GeminiBackend.Options.read(["api_version": "v1beta"]).apiVersion == "v1beta")
        #expect(throws: ProviderOptionError.self) { try GeminiBackend.Options.read(["api_version": "v2"]) }
    }

    /// A 429 says how long to wait in its body (`google.rpc.RetryInfo`); the retry policy honours it like
    /// `Retry-After`, and fails the call when it is longer than the policy allows.
    @Test func aQuotaErrorCarriesItsRetryDelay() throws {
        let backend = GeminiBackend(.init(name: "g", model: "m", apiKey: "k"))
        let body = #"""
            {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED",
              "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
                          {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}}
            """#
        let error = backend.httpError(429, body, [])
        #expect(error.kind == .rateLimited && error.retryAfter == .seconds(37))
        let fractional = backend.httpError(
            429,
            #"{"error":{"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}"#,
            [])
        #expect(fractional.retryAfter == .milliseconds(1500))
        // A Retry-After header wins over the body.
        #expect(backend.httpError(429, body, [("Retry-After", "2")]).retryAfter == .seconds(2))
        let invalidKey = backend.httpError(
            400,
            #"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}"#,
            [])
        #expect(invalidKey.kind == .authentication)
    }
}
