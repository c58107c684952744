import Foundation
import ModelBackends
import PanelKit
import Synchronization

/// A review asked of the team server, worked as a job of the queue (``TeamReview/jobPrefix``): its
/// listings together are one item, its personas × listings its calls, through the same fan-out, leases
/// and saved results as a batch's listing. Its events go to the store's log (``ReviewEventLog``), so a
/// watcher on any server sees the review whoever works it; the review ends in one fenced step.
extension BatchDriver {
    func workReview(_ id: String, _ queued: QueuedClaim, isLive: @escaping @Sendable () -> Bool) async {
        let claim = queued.claim
        let onEvent = self.onEvent
        let listings: [Listing]
        do {
            listings = try JSONDecoder().decode([Listing].self, from: Data(queued.listing.utf8))
        } catch {
            onEvent(.problem("review \(id): its listings cannot be read back (\(error))"))
            let reason = "its listings could not be read back"
            _ = try? await retrying {
                try await self.store.finishReview(
                    claim,
                    ReviewCompletion(
                        review: id, status: .failed, document: nil, verdicts: [], costUSD: nil, error: reason, lastResult: nil,
                        events: [.done(id, status: .failed, error: reason)]))
            }
            onEvent(.listingFinished(key: claim.key, name: nil, status: .failed))
            return
        }
        let title = listings.map(\.name).joined(separator: " vs ")
        let start = ContinuousClock.now
        let log = ReviewEventLog(
            store: store, review: id, listings: listings, deltaInterval: options.deltaInterval, onProblem: { onEvent(.problem($0)) })
        let pipeline = engine.pipeline(onEvent: { event in
            log.record(event)
            onEvent(event)
        })
        await detached {
            try await self.store.updateReview(id: id, status: .running, document: nil, verdicts: [], costUSD: nil, error: nil)
        }
        // Taken over from a process that stopped mid-review: what it streamed of an unfinished answer is
        // dropped by the views before the answer is asked again.
        let takenOver = queued.attempt > 1
        let asked = await fanOut(
            listings, claim: claim, hasResults: queued.hasResults, pipeline: pipeline, isLive: isLive,
            onAsk: { persona, listing in if takenOver { log.record(.restarted(persona: persona, listing: listing)) } },
            onResult: { result, listing in
                log.record(.finished(result, listing: listing))
                onEvent(.finished(result, listing: listing))
            })
        guard !asked.lost else {
            if asked.last != nil { unsaved(claim) }
            await log.flush()
            onEvent(.listingFinished(key: claim.key, name: title, status: .pending))
            return
        }
        if Task.isCancelled {
            // Stopping: what was saved stays; the review goes back to the queue (holding its token's
            // reservation) for this or another server, or a worker, to finish.
            if let (saved, reservation) = asked.last {
                await detached { _ = try await self.store.saveResult(saved, claim: claim, settling: reservation) }
            }
            await detached {
                try await self.store.release(claim, name: title)
                try await self.store.updateReview(
                    id: id, status: .queued, document: nil, verdicts: [], costUSD: nil,
                    error: "the server stopped before the review finished; it is queued again")
            }
            await log.flush()
            onEvent(.listingFinished(key: claim.key, name: title, status: .pending))
            return
        }
        let personas = engine.settings.prompts.personas
        let tools = listings.enumerated().map { index, listing in
            let results = personas.map {
                asked.results[Self.resultKey(index, $0.id)] ?? PersonaResult(persona: $0, outcome: .abstained(reason: "cancelled"))
            }
            return ReviewRun.ToolReview(
                listing: listing, results: results, panel: PanelSummary(results: results, quorum: engine.settings.quorum))
        }
        let run = ReviewRun(tools: tools, personas: personas, wallMS: (ContinuousClock.now - start).milliseconds)
        var document = await EngineTraces.step("document") { engine.document(run) }
        await checkClaims(&document, claim: claim, isLive: isLive)
        let events = ReviewEvent.panelEvents(document).map(\.record) + [.done(id, status: .done, error: nil)]
        let completion = ReviewCompletion(
            review: id, status: .done, document: JSONDocumentRenderer.render(document),
            verdicts: document.tools.map(\.panel.verdict.rawValue), costUSD: document.totals.costUSD, error: nil,
            lastResult: asked.last?.0, events: events)
        // The personas' events are in the log before the review's last ones.
        await log.flush()
        do {
            let held = try await EngineTraces.step("finish review") {
                try await retrying { try await self.store.finishReview(claim, completion) }
            }
            if let reservation = asked.last?.1 { try? await store.releaseBudget(reservation) }
            guard held else {
                if asked.last != nil { unsaved(claim) }
                onEvent(.listingFinished(key: claim.key, name: title, status: .pending))
                return
            }
        } catch {
            onEvent(.problem("review \(id): cannot record it finished in \(store.location): \(error)"))
            onEvent(.listingFinished(key: claim.key, name: title, status: .failed))
            return
        }
        state.withLock { $0.done += 1 }
        onEvent(.listingFinished(key: claim.key, name: title, status: document.allAnswered ? .complete : .partial))
    }
}
