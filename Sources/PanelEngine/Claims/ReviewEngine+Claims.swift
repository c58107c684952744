import Foundation
public import ModelBackends
public import PanelKit

extension ReviewEngine {
    /// Whether documents get the model check of claims (`panel.claims.check: model`).
    public var checksClaims: Bool { settings.checkClaims }

    /// One tool's model check: the claims it asks about and the request.
    public struct ClaimCheckCall: Sendable {
        public var tool: Int
        public var items: [ClaimModelCheck.Item]
        public var request: ChatRequest
        /// The key its answer is saved under with a job's results (as a persona's is).
        public var key: String { tool == 0 ? ClaimModelCheck.id : "\(tool)/\(ClaimModelCheck.id)" }
    }

    /// The calls of the model check for a built document: one per tool whose claims the rules left
    /// unsupported; none without the check.
    public func claimCheckCalls(_ document: ReviewDocument) -> [ClaimCheckCall] {
        guard checksClaims else { return [] }
        return document.tools.enumerated().compactMap { index, tool in
            let items = ClaimModelCheck.items(tool)
            guard !items.isEmpty else { return nil }
            return ClaimCheckCall(tool: index, items: items, request: ClaimModelCheck.request(tool.listing, items: items))
        }
    }

    /// The most a model-check call can be billed (for budgets); nil when no ceiling holds.
    public func claimCheckCeiling(_ call: ClaimCheckCall) -> Double? {
        backends.billedCeiling(call.request, persona: ClaimModelCheck.id)
    }

    /// Makes one model-check call (through the backend stack: router, cache, recordings, replay).
    public func claimCheckAnswer(_ call: ClaimCheckCall) async -> Result<ChatResponse, BackendError> {
        do {
            return .success(try await backends.backend(for: ClaimModelCheck.id).complete(call.request))
        } catch let error as BackendError {
            return .failure(error)
        } catch {
            return .failure(BackendError(kind: .invalidResponse, backend: "claims", detail: "\(error)"))
        }
    }

    /// Applies one call's answer — or its failure — to the document: the decisions with a quote found in
    /// the listing, the call's usage and cost in `claim_check` and the totals.
    public func applyClaimCheck(_ call: ClaimCheckCall, _ outcome: Result<ChatResponse, BackendError>, to document: inout ReviewDocument) {
        var record = document.claimCheck ?? ClaimCheckRecord(backend: backends.configuration?.claimCheckBackend)
        record.asked += call.items.count
        switch outcome {
        case .success(let response):
            // Usage and cost sum over the calls; unknown once any answered call's figure is.
            func add(_ a: Int?, _ b: Int?) -> Int? { a.flatMap { a in b.map { a + $0 } } }
            let first = record.answered == 0
            record.answered += 1
            record.calls += max(1, response.attempts)
            record.model = record.model ?? response.model
            record.backend = record.backend ?? response.backend
            record.inputTokens = first ? response.usage.inputTokens : add(record.inputTokens, response.usage.inputTokens)
            record.outputTokens = first ? response.usage.outputTokens : add(record.outputTokens, response.usage.outputTokens)
            record.costUSD = first ? response.costUSD : record.costUSD.flatMap { a in response.costUSD.map { a + $0 } }
            guard document.tools.indices.contains(call.tool) else { break }
            let listing = document.tools[call.tool].listing
            let (decided, discarded) = ClaimModelCheck.decisions(response.text, listing: listing, count: call.items.count)
            record.decided += ClaimModelCheck.apply(decided, items: call.items, to: &document.tools[call.tool])
            record.discarded += discarded
            document.totals.calls += max(1, response.attempts)
            document.totals.inputTokens = add(document.totals.inputTokens, response.usage.inputTokens)
            document.totals.outputTokens = add(document.totals.outputTokens, response.usage.outputTokens)
            document.totals.costUSD = document.totals.costUSD.flatMap { a in response.costUSD.map { ReviewDocument.roundCost(a + $0) } }
        case .failure(let error):
            record.calls += 1
            record.errors.append(
                "\(document.tools.indices.contains(call.tool) ? document.tools[call.tool].name : "?"): \(error.description)")
        }
        document.claimCheck = record
        document.claimCounts = document.tools.reduce(ClaimCounts()) { $0 + ($1.claimCounts ?? ClaimCounts()) }
    }

    /// Runs the model check on a document, one call per tool at once (no budget: `panel review`).
    public func checkClaims(_ document: inout ReviewDocument) async {
        let calls = claimCheckCalls(document)
        guard !calls.isEmpty else { return }
        let outcomes = await withTaskGroup(of: (Int, Result<ChatResponse, BackendError>).self) { group in
            for (index, call) in calls.enumerated() { group.addTask { (index, await self.claimCheckAnswer(call)) } }
            var outcomes: [Int: Result<ChatResponse, BackendError>] = [:]
            for await (index, outcome) in group { outcomes[index] = outcome }
            return outcomes
        }
        for (index, call) in calls.enumerated() {
            if let outcome = outcomes[index] { applyClaimCheck(call, outcome, to: &document) }
        }
    }

    /// A saved answer of the model check (with a job's results), so a listing worked again does not pay twice.
    public static func savedAnswer(_ response: ChatResponse) -> String {
        JSONValue.object([
            "text": .string(response.text), "model": response.model.map(JSONValue.string) ?? .null, "backend": .string(response.backend),
            "input_tokens": response.usage.inputTokens.map(JSONValue.int) ?? .null,
            "output_tokens": response.usage.outputTokens.map(JSONValue.int) ?? .null,
            "cost_usd": response.costUSD.map(JSONValue.double) ?? .null, "attempts": .int(response.attempts),
        ]).canonicalText()
    }

    /// A saved answer read back (nil when it is not one).
    public static func savedResponse(_ text: String) -> ChatResponse? {
        guard let value = JSONValue.parse(text), let answer = value["text"]?.stringValue else { return nil }
        var response = ChatResponse(
            text: answer, model: value["model"]?.stringValue, backend: value["backend"]?.stringValue ?? "claims",
            usage: TokenUsage(inputTokens: value["input_tokens"]?.intValue, outputTokens: value["output_tokens"]?.intValue))
        response.costUSD = value["cost_usd"]?.numberValue
        response.attempts = value["attempts"]?.intValue ?? 1
        return response
    }
}
