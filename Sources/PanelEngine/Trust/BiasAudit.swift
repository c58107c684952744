import Foundation
public import ModelBackends
public import PanelKit

/// `panel audit`: the listing reviewed as written and in controlled variants that should not change a
/// fair judge's mind — the description padded with neutral filler to twice its length, the fields
/// presented in another order, the tool's and vendor's names masked — and each persona's score and
/// verdict shift against the original, with bootstrap 95% intervals over the samples.
public struct BiasAudit: Sendable {
    public enum Variant: String, Sendable, CaseIterable {
        case padded, reordered, masked

        public var summary: String {
            switch self {
            case .padded: return "description padded with neutral filler to twice its length"
            case .reordered: return "the fields presented in another order"
            case .masked: return "the tool's and vendor's names masked"
            }
        }
    }

    public struct Shift: Sendable {
        public var persona: String
        public var variant: Variant
        /// Median score of the variant's votes − the original's.
        public var score: Double?
        public var scoreInterval: (Double, Double)?
        /// Ship share of the variant's votes − the original's.
        public var shipShare: Double?
        public var shipInterval: (Double, Double)?

        /// The score's interval leaves out 0 and the shift is at least a point: the variant moved it.
        public var scoreMoved: Bool { scoreInterval.map { ($0.0 > 0 || $0.1 < 0) && abs(score ?? 0) >= 1 } ?? false }
        public var verdictMoved: Bool { shipInterval.map { $0.0 > 0 || $0.1 < 0 } ?? false }
    }

    public var listing: String
    public var samples: Int
    public var shifts: [Shift]

    static let filler =
        "This sentence is neutral filler added by a consistency check; it says nothing about the tool, good or bad."

    /// The listing's variants.
    public static func variants(of listing: Listing) -> [(Variant, Listing)] {
        var padded = listing
        var text = listing.description
        while text.count < listing.description.count * 2 { text += (text.hasSuffix("\n") ? "" : "\n\n") + filler }
        padded.description = text

        // Another order: the facts that sit in their own fields, read in reverse order at the top of the
        // description instead (the same information, presented differently).
        var reordered = listing
        let facts: [(String, String?)] = [
            ("URL", listing.url), ("Best for", listing.bestFor), ("Entry price", listing.entry), ("Pricing", listing.pricing),
            ("Category", listing.category), ("Tagline", listing.tagline),
        ]
        let lines = facts.compactMap { label, value in value.map { "\(label): \($0)" } }
        reordered.description = (lines + ["", listing.description]).joined(separator: "\n")
        (reordered.url, reordered.bestFor, reordered.entry, reordered.pricing, reordered.category, reordered.tagline) = (
            nil, nil, nil, nil, nil, nil
        )

        var masked = listing
        let words = listing.name.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init).filter {
            $0.count >= 3 && $0.first?.isUppercase == true
        }
        func mask(_ text: String?) -> String? {
            guard var text else { return nil }
            text = text.replacingOccurrences(of: listing.name, with: "the tool", options: .caseInsensitive)
            for word in words { text = text.replacingOccurrences(of: word, with: "[masked]", options: .caseInsensitive) }
            return text
        }
        masked.name = "Tool X"
        masked.description = mask(listing.description) ?? ""
        masked.tagline = mask(listing.tagline)
        masked.bestFor = mask(listing.bestFor)
        masked.pricing = mask(listing.pricing)
        masked.community = mask(listing.community)
        masked.url = nil
        return [(.padded, padded), (.reordered, reordered), (.masked, masked)]
    }

    /// Reviews the listing and its variants (each alone, with the engine's samples) and measures the shifts.
    public static func run(_ listing: Listing, engine: ReviewEngine) async -> (audit: BiasAudit, original: ReviewDocument) {
        let variants = variants(of: listing)
        async let original = engine.review([listing])
        var documents: [(Variant, ReviewDocument)] = []
        await withTaskGroup(of: (Variant, ReviewDocument).self) { group in
            for (variant, changed) in variants { group.addTask { (variant, await engine.review([changed])) } }
            for await pair in group { documents.append(pair) }
        }
        let base = await original
        let ordered = Variant.allCases.compactMap { variant in documents.first { $0.0 == variant } }
        return (compare(base, ordered, listing: listing.name, samples: engine.settings.samples), base)
    }

    static func compare(_ original: ReviewDocument, _ variants: [(Variant, ReviewDocument)], listing: String, samples: Int) -> BiasAudit {
        var shifts: [Shift] = []
        for (variant, document) in variants {
            for review in original.tools.first?.reviews ?? [] {
                let before = review.votes
                let after = document.tools.first?.reviews.first { $0.persona == review.persona }?.votes ?? []
                var shift = Shift(persona: review.persona, variant: variant)
                guard !before.isEmpty, !after.isEmpty else {
                    shifts.append(shift)
                    continue
                }
                func median(_ votes: [ScoreVote]) -> Double { Statistics.median(votes.map(\.score)) ?? 0 }
                func share(_ votes: [ScoreVote]) -> Double { Double(votes.filter(\.ship).count) / Double(votes.count) }
                shift.score = median(after) - median(before)
                shift.shipShare = share(after) - share(before)
                let seed = SeededRandom.seed("\(listing)|\(variant.rawValue)|\(review.persona)")
                // Both sides resampled at once: indices below `before.count` draw from the original.
                let total = before.count + after.count
                func split(_ sample: [Int]) -> ([ScoreVote], [ScoreVote]) {
                    var generator = SeededRandom(seed: UInt64(sample.reduce(0) { $0 &* 31 &+ $1 }))
                    let a = (0..<before.count).map { _ in before[Int(generator.next(upperBound: UInt64(before.count)))] }
                    let b = (0..<after.count).map { _ in after[Int(generator.next(upperBound: UInt64(after.count)))] }
                    return (a, b)
                }
                shift.scoreInterval = Statistics.bootstrapInterval(count: total, seed: seed) { sample in
                    let (a, b) = split(sample)
                    return median(b) - median(a)
                }
                shift.shipInterval = Statistics.bootstrapInterval(count: total, seed: seed &+ 1) { sample in
                    let (a, b) = split(sample)
                    return share(b) - share(a)
                }
                shifts.append(shift)
            }
        }
        return BiasAudit(listing: listing, samples: samples, shifts: shifts)
    }

    // MARK: output

    static func round(_ value: Double?, _ places: Double = 100) -> JSONValue { .rounded(value, places) }

    public func json() -> JSONValue {
        .object([
            "listing": .string(listing), "samples": .int(samples),
            "shifts": .array(
                shifts.map { shift in
                    .object([
                        "persona": .string(shift.persona), "variant": .string(shift.variant.rawValue),
                        "score_shift": Self.round(shift.score),
                        "score_shift_ci": shift.scoreInterval.map { .array([Self.round($0.0), Self.round($0.1)]) } ?? .null,
                        "ship_share_shift": Self.round(shift.shipShare),
                        "ship_share_shift_ci": shift.shipInterval.map { .array([Self.round($0.0), Self.round($0.1)]) } ?? .null,
                        "score_moved": .bool(shift.scoreMoved), "verdict_moved": .bool(shift.verdictMoved),
                    ])
                }),
        ])
    }

    public func markdown() -> String {
        func signed(_ value: Double?) -> String { value.map { CFormat.double("%+.1f", $0) } ?? "—" }
        func interval(_ value: (Double, Double)?) -> String { value.map { "\(signed($0.0)) to \(signed($0.1))" } ?? "—" }
        var lines = [
            "# Bias audit: \(listing.replacingOccurrences(of: "\n", with: " "))", "",
            "Each persona asked \(samples) time(s) per version. A shift is the variant's median score (or ship share) minus the original's, with a bootstrap 95% interval; **moved** means the interval leaves out zero.",
            "",
        ]
        for variant in Variant.allCases {
            lines += [
                "## \(variant.rawValue.capitalized): \(variant.summary)", "",
                "| persona | score shift | 95% interval | ship share shift | 95% interval | |", "|---|---|---|---|---|---|",
            ]
            for shift in shifts where shift.variant == variant {
                let marks = [shift.scoreMoved ? "**score moved**" : nil, shift.verdictMoved ? "**verdict moved**" : nil].compactMap { $0 }
                lines.append(
                    "| \(shift.persona) | \(signed(shift.score)) | \(interval(shift.scoreInterval)) | \(signed(shift.shipShare.map { $0 * 100 }))% | \(interval(shift.shipInterval.map { ($0.0 * 100, $0.1 * 100) }))% | \(marks.isEmpty ? "—" : marks.joined(separator: ", ")) |"
                )
            }
            lines.append("")
        }
        let moved = shifts.filter { $0.scoreMoved || $0.verdictMoved }
        lines.append(
            moved.isEmpty
                ? "No variant moved a persona's score or verdict beyond its interval."
                : "Moved: " + moved.map { "\($0.persona) by \($0.variant.rawValue) (\(signed($0.score)))" }.joined(separator: ", ") + ".")
        return lines.joined(separator: "\n") + "\n"
    }
}
