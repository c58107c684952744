import Foundation
import ModelBackends
import PanelKit

extension BatchDriver {
    /// The model check of a finished item's document (`panel.claims.check: model`), as a persona's call is
    /// made: only under the item's live lease, within the job's budget (its ceiling reserved first), its
    /// answer saved with the item's results in a fenced step (so an item worked again reuses what was paid
    /// for, and a lost lease keeps it from counting). A call that cannot be made leaves the claims as the
    /// rules read them and says why in the document's `claim_check`.
    func checkClaims(_ document: inout ReviewDocument, claim: ItemClaim, isLive: @Sendable () -> Bool) async {
        let calls = engine.claimCheckCalls(document)
        guard !calls.isEmpty else { return }
        let saved = (try? await store.results(job: job, key: claim.key)) ?? [:]
        for call in calls {
            if let text = saved[call.key], let response = ReviewEngine.savedResponse(text) {
                engine.applyClaimCheck(call, .success(response), to: &document)
                continue
            }
            guard isLive() else {
                engine.applyClaimCheck(call, .failure(Self.notAsked("the listing's lease was lost")), to: &document)
                continue
            }
            var reservation: BudgetReservation?
            if let budget = options.budgetUSD {
                let ceiling = engine.claimCheckCeiling(call) ?? 0
                guard let reserved = try? await store.reserveBudget(job: job, owner: owner, amountUSD: ceiling, limitUSD: budget) else {
                    engine.applyClaimCheck(call, .failure(Self.notAsked("the job's budget is spent")), to: &document)
                    continue
                }
                reservation = reserved
            }
            let outcome = await engine.claimCheckAnswer(call)
            let settling = reservation
            switch outcome {
            case .success(let response):
                let result = SavedResult(persona: call.key, review: ReviewEngine.savedAnswer(response), costUSD: response.costUSD)
                let held = (try? await retrying { try await self.store.saveResult(result, claim: claim, settling: settling) }) ?? false
                guard held else {
                    // Fenced out: another process holds the listing now, and its document is the one kept.
                    onEvent(.problem("\(claim.key): the model check's answer was paid for but not saved: the lease was lost"))
                    return
                }
            case .failure:
                if let settling { await detached { try await self.store.releaseBudget(settling) } }
            }
            engine.applyClaimCheck(call, outcome, to: &document)
        }
    }

    static func notAsked(_ reason: String) -> BackendError {
        BackendError(kind: .cancelled, backend: "claims", detail: "not asked: \(reason)")
    }
}
