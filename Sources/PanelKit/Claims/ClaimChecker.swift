import Foundation

/// Checks a paragraph's claims against one listing: each is `supported` (the listing states a compatible
/// value — a bound or approximation its figure satisfies counts), `contradicted` (the listing states a
/// different value of the same kind for the same thing) or `unsupported` (the listing says nothing of it).
///
/// The listing's own figures are read once, with the same rules, from every field of `Listing.fieldKeys`.
public struct ClaimChecker: Sendable {
    struct Fact: Sendable {
        var draft: ClaimDraft
        var field: String
        var quote: String
    }

    let facts: [Fact]
    /// How many figures the listing states (what claims are checked against).
    public var listingFigures: Int { facts.count }
    let name: String
    /// The listing's entry line says "Paid": a free tier claimed is contradicted.
    let paidEntry: (quote: String, span: [Int])?

    public init(listing: Listing) {
        name = listing.name
        var facts: [Fact] = []
        var paid: (String, [Int])?
        for (field, text) in listing.fields where field != "url" {
            let scalars = text.scalarArray
            for draft in ClaimExtractor.drafts(scalars) {
                facts.append(Fact(draft: draft, field: field, quote: String(String.UnicodeScalarView(scalars[draft.start..<draft.end]))))
            }
            if field == "entry" {
                let entry = text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
                if entry.hasPrefix("free") || entry == "freemium" {
                    let draft = ClaimDraft(
                        kind: .money, start: 0, end: scalars.count, unit: "free", low: 0, high: 0, tolerance: 0, approximate: false,
                        id: "free", qualifier: "price")
                    facts.append(Fact(draft: draft, field: field, quote: text))
                } else if entry == "paid" {
                    paid = (text, [0, scalars.count])
                }
            }
        }
        self.facts = facts
        paidEntry = paid
    }

    /// The claims of `text` (a persona's paragraph as stored), each with its status.
    public func claims(in text: String) -> [Claim] {
        let scalars = text.scalarArray
        let masks = ClaimExtractor.occurrences(of: name, in: scalars)
        return ClaimExtractor.drafts(scalars, masks: masks).map { draft in
            var claim = Claim(
                text: String(String.UnicodeScalarView(scalars[draft.start..<draft.end])), span: [draft.start, draft.end],
                kind: draft.kind, value: draft.value, status: .unsupported)
            let (status, fact) = check(draft)
            claim.status = status
            if let fact {
                claim.quote = fact.quote
                claim.field = fact.field
                claim.quoteSpan = [fact.draft.start, fact.draft.end]
            } else if status == .contradicted, let paidEntry {
                claim.quote = paidEntry.quote
                claim.field = "entry"
                claim.quoteSpan = paidEntry.span
            }
            return claim
        }
    }

    func check(_ claim: ClaimDraft) -> (Claim.Status, Fact?) {
        var contradiction: Fact?
        var supporting: Fact?
        for fact in facts where fact.draft.kind == claim.kind {
            switch compare(claim, fact.draft) {
            case .supports:
                // Prefer a fact about the same thing (an input price for an input price).
                if supporting == nil || (fact.draft.qualifier == claim.qualifier && supporting?.draft.qualifier != claim.qualifier) {
                    supporting = fact
                }
            case .contradicts:
                if contradiction == nil { contradiction = fact }
            case .unrelated:
                break
            }
        }
        if let supporting { return (.supported, supporting) }
        if let contradiction { return (.contradicted, contradiction) }
        if claim.kind == .money, claim.unit == "free", paidEntry != nil { return (.contradicted, nil) }
        return (.unsupported, nil)
    }

    enum Comparison {
        case supports
        case contradicts
        case unrelated
    }

    func compare(_ claim: ClaimDraft, _ fact: ClaimDraft) -> Comparison {
        switch claim.kind {
        case .licence:
            return Self.compareLicences(claim.id ?? "", fact.id ?? "")
        case .version:
            if claim.id == fact.id { return .supports }
            guard let a = claim.qualifier, a.hasPrefix("product:"), a == fact.qualifier else { return .unrelated }
            return .contradicts
        case .money where claim.unit == "free" || fact.unit == "free":
            if claim.unit == "free" && (fact.unit == "free" || (fact.high == 0 && fact.low == 0)) { return .supports }
            return .unrelated
        default:
            break
        }
        guard claim.unit == fact.unit else { return .unrelated }
        let sameThing: Bool
        switch claim.kind {
        case .parameters:
            sameThing = true
        case .money:
            sameThing = claim.qualifier == nil || fact.qualifier == nil || claim.qualifier == fact.qualifier
        default:
            sameThing = claim.qualifier != nil && claim.qualifier == fact.qualifier
        }
        // Different things measured in the same unit (a context window and an output limit) neither
        // support nor contradict each other.
        if let a = claim.qualifier, let b = fact.qualifier, a != b, claim.kind != .parameters { return .unrelated }
        let claimLow = claim.low - claim.tolerance
        let claimHigh = claim.high + claim.tolerance
        if fact.low >= claimLow - 1e-12 * abs(claimLow), fact.high <= claimHigh + 1e-12 * abs(claimHigh) {
            // A bound is satisfied by any smaller figure ("under 5 minutes" by "under 20 ms"): it is backed only
            // by a figure about the same thing, or by the same bound.
            let isBound = claim.low != claim.high
            let agree = claim.qualifier != nil && claim.qualifier == fact.qualifier
            if !isBound || agree || claim.kind == .parameters || claim.kind == .money || Self.sameShape(claim, fact) { return .supports }
            return .unrelated
        }
        // An exact figure given roughly by the listing ("about 300 ms") supports the figure it rounds.
        if fact.approximate, claim.low == claim.high, claim.low >= fact.low - fact.tolerance, claim.high <= fact.high + fact.tolerance {
            return .supports
        }
        let factLow = fact.low - fact.tolerance
        let factHigh = fact.high + fact.tolerance
        let disjoint = claimHigh < factLow || factHigh < claimLow
        return disjoint && sameThing ? .contradicts : .unrelated
    }

    /// The same bound or range: "below 10 ms" and "below 10 ms".
    static func sameShape(_ a: ClaimDraft, _ b: ClaimDraft) -> Bool {
        let tolerance = max(a.tolerance, b.tolerance)
        func close(_ x: Double, _ y: Double) -> Bool { x == y || abs(x - y) <= tolerance }
        return close(a.low, b.low) && close(a.high, b.high)
    }

    static let osi: Set<String> = ["apache", "apache-2.0", "mit", "bsd", "mpl"]

    static func family(_ id: String) -> String {
        if id.hasPrefix("apache") { return "apache" }
        if let dash = id.firstIndex(of: "-"), id.hasPrefix("gpl") || id.hasPrefix("agpl") || id.hasPrefix("lgpl") {
            return String(id[..<dash])
        }
        return id
    }

    static func isOpenLicence(_ id: String) -> Bool {
        osi.contains(id) || id.hasPrefix("gpl") || id.hasPrefix("agpl") || id.hasPrefix("lgpl")
    }

    static func compareLicences(_ claim: String, _ fact: String) -> Comparison {
        if claim == fact { return .supports }
        let claimOpen = isOpenLicence(claim)
        let factOpen = isOpenLicence(fact)
        switch (claim, fact) {
        case ("apache", "apache-2.0"): return .supports
        case ("open-source", _) where factOpen: return .supports
        case ("open-weights", _) where factOpen: return .supports
        case ("proprietary", _) where factOpen || fact == "open-source" || fact == "open-weights": return .contradicts
        case (_, "proprietary") where claimOpen || claim == "open-source" || claim == "open-weights": return .contradicts
        default: break
        }
        if claimOpen, factOpen {
            if family(claim) != family(fact) { return .contradicts }
            // GPL-2 against GPL-3: a different version of the same licence.
            return claim.contains("-") && fact.contains("-") ? .contradicts : .supports
        }
        return .unrelated
    }
}
