/// Reviews asked of the team server, kept in memory as the SQL stores keep them: a job of one item on the
/// queue, and each review's log of events (dropped a while after the review ends).
extension MemoryStore {
    public func admitReview(_ review: TeamReview, settings: String, maxUnfinished: Int) async throws -> ReviewAdmission {
        let admission = try step { state, now -> ReviewAdmission in
            let admission = state.team.admit(review, maxUnfinished: maxUnfinished)
            guard admission == .admitted else { return admission }
            var record = Job(name: review.job, createdAt: now, settings: settings)
            record.items[TeamReview.itemKey] = Item(
                key: TeamReview.itemKey, position: 0, listing: review.listings, status: .pending, name: review.title, trace: review.trace)
            state.jobs[review.job] = record
            return admission
        }
        if admission == .admitted { work.bump() }
        return admission
    }

    public func finishReview(_ claim: ItemClaim, _ completion: ReviewCompletion) async throws -> Bool {
        let held = try step { state, now -> Bool in
            guard state.holds(claim) else { return false }
            if let last = completion.lastResult { state.insertResult(job: claim.job, key: claim.key, last) }
            state.write(
                job: claim.job, key: claim.key, name: nil, status: completion.status == .done ? .complete : .failed,
                error: completion.error, documents: [], outcome: .init(costUSD: completion.costUSD))
            state.endReview(completion, now: now)
            return true
        }
        if held { reviewEventsAppended.bump(completion.review) }
        return held
    }

    public func appendReviewEvents(review: String, _ events: [ReviewEventRecord]) async throws {
        guard !events.isEmpty else { return }
        try step { state, _ in state.append(review: review, events) }
        reviewEventsAppended.bump(review)
    }

    public func reviewEvents(review: String, after seq: Int, limit: Int) async throws -> [ReviewEventRecord] {
        try step { state, _ in Array((state.events[review] ?? []).filter { $0.seq > seq }.prefix(max(0, limit))) }
    }

    public func waitForReviewEvents(review: String, timeout: Duration) async {
        await reviewEventsAppended.wait(for: review, timeout: timeout, clock: clock)
    }
}

extension MemoryStore.State {
    /// How long a finished review's event log is kept (as in the SQL stores).
    static let finishedEventsKept = 120.0

    mutating func append(review: String, _ events: [ReviewEventRecord]) {
        guard !events.isEmpty else { return }
        let last = self.events[review]?.last?.seq ?? 0
        for (offset, event) in events.enumerated() {
            self.events[review, default: []].append(ReviewEventRecord(seq: last + 1 + offset, name: event.name, data: event.data))
        }
    }

    /// A review's job ended: its record, its token's charge (the reservation given back), its last events,
    /// and the logs of reviews finished long enough ago dropped.
    mutating func endReview(_ completion: ReviewCompletion, now: Double) {
        let id = completion.review
        guard var review = team.reviews[id] else { return }
        let cost =
            completion.costUSD
            ?? (jobs[TeamReview.job(id)]?.items.values.reduce(0.0) { sum, item in
                sum + item.results.values.reduce(0.0) { $0 + ($1.costUSD ?? 0) }
            } ?? 0)
        let charge = cost.isFinite ? max(0, cost) : 0
        let reserved = review.reservedUSD
        review.status = completion.status
        review.document = completion.document ?? review.document
        review.verdicts = completion.verdicts
        review.costUSD = cost
        review.error = completion.error
        review.reservedUSD = 0
        team.reviews[id] = review
        team.addSpend(review.tokenID, charge - reserved, floor: true)
        append(review: id, completion.events)
        for (other, expires) in eventsExpire where expires < now {
            events.removeValue(forKey: other)
            eventsExpire.removeValue(forKey: other)
        }
        eventsExpire[id] = now + Self.finishedEventsKept
    }
}
