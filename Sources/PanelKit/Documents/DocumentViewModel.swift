import Foundation
import ModelBackends

/// The values document templates see, built from a v1 document alone (so `panel render` and a live
/// review render identically).
///
/// Text is raw here: templates escape it (`{{x}}` is escaped for HTML in the HTML template and for
/// Markdown in the Markdown one). Fields ending in `_cell` are also folded to one line with `|` escaped, for Markdown
/// table cells. Links appear only when they are http(s).
public enum DocumentViewModel {
    public static func make(_ doc: ReviewDocument) -> TemplateValue {
        let reviews = doc.tools.flatMap(\.reviews)
        let answered = reviews.filter { $0.status == .answered }
        var models: [String] = []
        for review in reviews {
            if let by = answeredBy(review), !models.contains(by) { models.append(by) }
        }
        let families = Set(answered.map { ModelFamily.of(family: $0.family, kind: nil, model: $0.model ?? $0.backend) }).sorted()
        var footer: TemplateFields = [
            "answered": .number(answered.count), "total": .number(reviews.count), "models": .text(models.joined(separator: ", ")),
            "calls": .number(doc.totals.calls), "generated_at": .text(doc.generatedAt),
            "tokens": .text(
                doc.totals.inputTokens.flatMap { input in doc.totals.outputTokens.map { "\(input) in / \($0) out" } } ?? "not reported"),
            "cost": .text(doc.totals.costUSD.map { "$" + CFormat.double("%.4f", $0) } ?? "unknown"),
            "wall": .text(CFormat.double("%.1f", Double(doc.totals.wallMS) / 1000) + " s"),
            "families": .number(families.count), "family_names": .text(families.joined(separator: ", ")),
        ]
        if families.count == 1 && answered.count > 1 { footer["single_model_panel"] = true }
        if let approved = doc.editor?.approved { footer["approved"] = ["by": .text(approved.by), "at": .text(approved.at)] }
        if let counts = doc.claimCounts, counts.total > 0 { footer["claims"] = .text(claimLine(counts, total: true)) }
        var notes: [TemplateValue] = []
        let personas = personaRows(doc, notes: &notes)
        let contradicted = notes.filter { $0["status"] == .text(Claim.Status.contradicted.rawValue) }.count
        return [
            "title": .text(doc.title), "is_comparison": .flag(doc.kind == .comparison), "tool_count": .number(doc.tools.count),
            "tools": .list(doc.tools.map { tool($0, editor: doc.editor) }), "decision_rows": .list(decisionRows(doc)),
            "personas": .list(personas), "footer": .object(footer), "claim_notes": .list(notes), "has_claim_notes": .flag(!notes.isEmpty),
            "contradicted_count": .number(contradicted), "has_contradicted": .flag(contradicted > 0),
        ]
    }

    static func tool(_ tool: ReviewDocument.Tool, editor: ReviewDocument.Editor? = nil) -> TemplateValue {
        let panel = tool.panel
        var values: TemplateFields = [
            "name": .text(tool.name), "name_cell": .text(cell(tool.name)),
            "initial": .text(String(tool.name.first.map { String($0).uppercased() } ?? "?")),
            "verdict": .text(panel.verdict.rawValue), "verdict_label": .text(panel.verdict.rawValue.capitalized),
            "headline": .text(panel.headline), "tally": .text(panel.tally), "community": .text(communityLine(tool)),
            "has_community": .flag(tool.community != nil || (tool.communityVotes?.readers ?? 0) > 0), "entry": .text(tool.entry ?? "—"),
            "description": paragraphs(tool.description),
            "share": .text(panel.shipShare.flatMap { CheckedNumber.clamped($0 * 100, to: 0...100) }.map { "\($0)%" } ?? "no votes"),
            "share_percent": .number(panel.shipShare.flatMap { CheckedNumber.clamped($0 * 100, to: 0...100) } ?? 0),
            "votes": .text("\(panel.ship) of \(panel.ship + panel.skip) votes"),
        ]
        if panel.abstained != 0 { values["abstained"] = .number(panel.abstained) }
        if let counts = tool.claimCounts, counts.unsupported + counts.contradicted > 0 {
            values["claims_flagged"] = .text(claimLine(counts, total: false))
        }
        let subtitle = [tool.category, tool.tagline].compactMap { $0 }.joined(separator: " · ")
        if !subtitle.isEmpty { values["subtitle"] = .text(subtitle) }
        if let category = tool.category { values["category"] = .text(category) }
        if let tagline = tool.tagline { values["tagline"] = .text(tagline) }
        if let url = tool.url, isWebURL(url) { values["url"] = .text(url) }
        if let interval = tool.panel.interval {
            var parts: [String] = []
            if let median = interval.scoreMedian, median.count == 2 {
                parts.append("median score \(number(median[0]))–\(number(median[1]))")
            }
            if let share = interval.shipShare, share.count == 2 {
                parts.append("ship share \(number(share[0] * 100))–\(number(share[1] * 100))%")
            }
            if !parts.isEmpty { values["interval"] = .text(parts.joined(separator: " · ")) }
        }
        if tool.panel.closeCall == true { values["close_call"] = true }
        if let override = editor?.override(tool: tool.name) {
            values["override"] = [
                "verdict": .text(override.verdict.rawValue), "verdict_label": .text(override.verdict.rawValue.capitalized),
                "note": .text(override.note), "by": .text(override.by), "at": .text(override.at),
            ]
        }
        return .object(values)
    }

    /// "12 readers · 9 ship / 3 skip" when readers voted, else the listing's text, else "No community votes yet".
    static func communityLine(_ tool: ReviewDocument.Tool) -> String {
        if let votes = tool.communityVotes, votes.readers > 0 { return votes.line }
        return tool.community ?? "No community votes yet"
    }

    /// "Ship · 3 ship / 1 skip", or with an editor's override: "Skip (editor; the panel said Ship · 3 ship / 1 skip)".
    static func verdictLine(_ tool: ReviewDocument.Tool, editor: ReviewDocument.Editor?) -> String {
        guard let override = editor?.override(tool: tool.name) else { return tool.panel.headline }
        return "\(override.verdict.rawValue.capitalized) (editor's call; the panel said \(tool.panel.headline))"
    }

    /// The comparison's decision table; for a single review, the rows its card does not already show
    /// (`single_fact`, with `single_value`) are listed with the card instead of a one-column table.
    static func decisionRows(_ doc: ReviewDocument) -> [TemplateValue] {
        func row(_ label: String, inCard: Bool = false, _ value: (ReviewDocument.Tool) -> String?) -> TemplateValue {
            var row: TemplateFields = [
                "label": .text(label),
                "cells": .list(
                    doc.tools.map { tool -> TemplateValue in
                        let text = value(tool) ?? "—"
                        return ["value": .text(text), "value_cell": .text(cell(text))]
                    }),
            ]
            if doc.tools.count == 1, !inCard, let only = doc.tools.first, let text = value(only) {
                row["single_fact"] = .flag(true)
                row["single_value"] = .text(text)
                row["single_value_cell"] = .text(cell(text))
            }
            return .object(row)
        }
        return [
            row("Panel verdict", inCard: true) { verdictLine($0, editor: doc.editor) },
            row("Median score") { $0.panel.scoreMedian.map { "\(number($0))/100" } },
            row("Community", inCard: true) { communityLine($0) },
            row("Pricing") { $0.pricing },
            row("Best for") { $0.bestFor },
            row("Category") { $0.category },
        ]
    }

    static func personaRows(_ doc: ReviewDocument, notes: inout [TemplateValue]) -> [TemplateValue] {
        var ids = doc.personas.map(\.id)
        for id in doc.tools.flatMap({ $0.reviews.map(\.persona) }) where !ids.contains(id) { ids.append(id) }
        return ids.map { id in
            var reviews: [TemplateValue] = []
            for tool in doc.tools {
                guard let review = tool.reviews.first(where: { $0.persona == id }) else {
                    reviews.append(["tool": .text(tool.name), "tool_cell": .text(cell(tool.name)), "missing": true])
                    continue
                }
                reviews.append(
                    self.review(
                        review, tool: tool, edit: doc.editor?.edit(tool: tool.name, persona: id), persona: doc.personaName(id),
                        notes: &notes))
            }
            var row: TemplateFields = ["id": .text(id), "name": .text(doc.personaName(id)), "reviews": .list(reviews)]
            if let weighs = doc.personas.first(where: { $0.id == id })?.weighs { row["weighs"] = .text(weighs) }
            return .object(row)
        }
    }

    static func review(
        _ review: ReviewDocument.Review, tool: ReviewDocument.Tool, edit: ReviewDocument.Editor.Edit? = nil, persona: String = "",
        notes: inout [TemplateValue]
    ) -> TemplateValue {
        var values: TemplateFields = ["tool": .text(tool.name), "tool_cell": .text(cell(tool.name))]
        switch review.status {
        case .answered:
            let score = review.score ?? 0
            values["answered"] = true
            values["score"] = .number(score)
            values["verdict"] = .text(review.verdict?.rawValue ?? "?")
            values["score_line"] = .text(Self.scoreLine(review) + (review.calibratedScore.map { " · calibrated \(number($0))" } ?? ""))
            if review.flags.contains(PersonaResult.unstableFlag) { values["unstable"] = true }
            // Claims were read from the model's paragraph: they mark it until an editor rewrites it.
            let flagged = edit == nil ? (review.claims ?? []).filter(\.isFlagged) : []
            values["text"] = marked(
                paragraphs(edit?.text ?? review.text ?? ""), claims: flagged, tool: tool.name, persona: persona, notes: &notes)
            if !flagged.isEmpty { values["flagged_claims"] = .number(flagged.count) }
            if edit == nil, let claims = review.claims, !claims.isEmpty {
                values["claims"] = .list(claims.map(Self.claimLine))
                values["has_claims"] = true
            }
            if let edit {
                values["edited"] = ["by": .text(edit.by), "at": .text(edit.at)]
                values["original_text"] = paragraphs(review.text ?? "")
            }
            values["contradiction"] = .flag(review.flags.contains(PersonaResult.contradictionFlag))
            values["repaired"] = .flag(review.flags.contains(PersonaResult.repairedFlag))
            values["cached"] = .flag(review.flags.contains(PersonaResult.cachedFlag))
        case .abstained:
            values["abstained"] = true
            values["reason"] = .text(review.error ?? "no reason given")
        }
        if let by = answeredBy(review) { values["by"] = .text(by) }
        return .object(values)
    }

    /// "2 unsupported · 1 contradicted", or for a document "3 of 12 claims flagged (2 unsupported · 1 contradicted)".
    static func claimLine(_ counts: ClaimCounts, total: Bool) -> String {
        var parts: [String] = []
        if counts.unsupported > 0 { parts.append("\(counts.unsupported) unsupported") }
        if counts.contradicted > 0 { parts.append("\(counts.contradicted) contradicted") }
        guard total else { return parts.joined(separator: " · ") }
        let flagged = counts.unsupported + counts.contradicted
        let noun = counts.total == 1 ? "claim" : "claims"
        if flagged == 0 { return "\(counts.total) \(noun) checked, all backed by the listing" }
        return "\(flagged) of \(counts.total) \(noun) to check (\(parts.joined(separator: " · ")))"
    }

    /// The paragraphs with each flagged claim as a segment of its own carrying its note (numbered across
    /// the document); every paragraph gets `segments`, one plain segment when nothing is flagged. Claims
    /// are found in order in the folded paragraphs (whitespace inside a claim folded to one space).
    static func marked(
        _ paragraphs: TemplateValue, claims: [Claim], tool: String, persona: String, notes: inout [TemplateValue]
    ) -> TemplateValue {
        guard case .list(let items) = paragraphs else { return paragraphs }
        var pending = claims.sorted { $0.span[0] < $1.span[0] }[...]
        var result: [TemplateValue] = []
        for item in items {
            guard case .object(var fields) = item, case .text(let text)? = fields["text"] else {
                result.append(item)
                continue
            }
            var segments: [TemplateValue] = []
            var rest = text[...]
            while let claim = pending.first {
                let needle = claim.text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
                guard !needle.isEmpty, let range = rest.range(of: needle) else { break }
                if range.lowerBound > rest.startIndex { segments.append(["text": .text(String(rest[..<range.lowerBound]))]) }
                let note = Self.note(claim, number: notes.count + 1, tool: tool, persona: persona)
                notes.append(note)
                segments.append(["text": .text(String(rest[range])), "note": note])
                rest = rest[range.upperBound...]
                pending.removeFirst()
            }
            if !rest.isEmpty || segments.isEmpty { segments.append(["text": .text(String(rest))]) }
            fields["segments"] = .list(segments)
            result.append(.object(fields))
        }
        return .list(result)
    }

    /// One claim and its status, for the list under a paragraph: "“Apache licence” — supported (pricing:
    /// “Apache 2.0”)".
    static func claimLine(_ claim: Claim) -> TemplateValue {
        var detail = claim.status.rawValue
        if let quote = claim.quote, let field = claim.field { detail += " (\(field): “\(quote)”)" }
        if claim.source == .model { detail += ", by the model check" }
        return ["claim": .text(claim.text), "status": .text(claim.status.rawValue), "detail": .text(detail)]
    }

    static func note(_ claim: Claim, number: Int, tool: String, persona: String) -> TemplateValue {
        let explanation: String
        switch claim.status {
        case .contradicted:
            explanation = "the listing says “\(claim.quote ?? "")”" + (claim.field.map { " (\($0))" } ?? "")
        default:
            explanation = "the listing says nothing of it"
        }
        return [
            "number": .number(number), "status": .text(claim.status.rawValue), "status_label": .text(claim.status.rawValue.capitalized),
            "claim": .text(claim.text), "explanation": .text(explanation), "tool": .text(tool), "persona": .text(persona),
            "source": .text(claim.source.rawValue),
        ]
    }

    /// `78/100 · ship`, or with samples `78 (70–84, k=5) · ship 4/5`.
    static func scoreLine(_ review: ReviewDocument.Review) -> String {
        let verdict = review.verdict?.rawValue ?? "?"
        guard let samples = review.samples, samples.count > 1 else { return "\(review.score ?? 0)/100 · \(verdict)" }
        let median = review.scoreMedian.map(number) ?? "\(review.score ?? 0)"
        let range = review.spread.map { "\($0.min)–\($0.max), " } ?? ""
        let agreeing = samples.filter { $0.verdict == review.verdict }.count
        return "\(median) (\(range)k=\(samples.count)) · \(verdict) \(agreeing)/\(samples.count)"
    }

    static func answeredBy(_ review: ReviewDocument.Review) -> String? {
        switch (review.backend, review.model) {
        case (let backend?, let model?) where backend != model: return "\(backend) · \(model)"
        case (let backend?, _): return backend
        case (nil, let model?): return model
        default: return nil
        }
    }

    /// Paragraphs of untrusted text, blank lines separating them, each folded to one line: lines are
    /// split at every Unicode line break (CR LF once), trimmed of spaces and tabs, and joined with one
    /// space; blank lines end a paragraph. One pass over the UTF-8 bytes (line breaks and blanks are
    /// ASCII or whole multi-byte sequences, so every slice is valid UTF-8).
    static func paragraphs(_ text: String) -> TemplateValue {
        var text = text
        return text.withUTF8 { bytes -> TemplateValue in
            var paragraphs: [TemplateValue] = []
            var current: [UInt8] = []
            var lineStart = 0
            func endParagraph() {
                if !current.isEmpty { paragraphs.append(["text": .text(String(validUTF8: current))]) }
                current.removeAll(keepingCapacity: true)
            }
            func endLine(_ end: Int) {
                var start = lineStart
                var end = end
                while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
                while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
                if start == end {
                    endParagraph()
                } else {
                    if !current.isEmpty { current.append(0x20) }
                    current.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<end]))
                }
            }
            let count = bytes.count
            var index = 0
            while index < count {
                let byte = bytes[index]
                var length = 0
                switch byte {
                case 0x0A, 0x0B, 0x0C: length = 1
                case 0x0D: length = index + 1 < count && bytes[index + 1] == 0x0A ? 2 : 1
                case 0xC2 where index + 1 < count && bytes[index + 1] == 0x85: length = 2  // NEL
                case 0xE2 where index + 2 < count && bytes[index + 1] == 0x80 && (bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9):
                    length = 3  // LINE / PARAGRAPH SEPARATOR
                default: break
                }
                if length == 0 {
                    index += 1
                } else {
                    endLine(index)
                    index += length
                    lineStart = index
                }
            }
            endLine(count)
            endParagraph()
            return .list(paragraphs)
        }
    }

    /// One line with `|` escaped, for a Markdown table cell.
    static func cell(_ text: String) -> String {
        // Only `|` and line breaks (ASCII ones, NEL, LINE and PARAGRAPH SEPARATOR) need work.
        var needsWork = false
        var previous: (UInt8, UInt8) = (0, 0)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "|"), 0x0A, 0x0B, 0x0C, 0x0D: needsWork = true
            case 0x85 where previous.1 == 0xC2: needsWork = true
            case 0xA8 where previous == (0xE2, 0x80), 0xA9 where previous == (0xE2, 0x80): needsWork = true
            default: break
            }
            if needsWork { break }
            previous = (previous.1, byte)
        }
        guard needsWork else { return text }
        return text.split(whereSeparator: \.isNewline).joined(separator: " ").replacingOccurrences(of: "|", with: "\\|")
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : CFormat.double("%.1f", value)
    }

    static func isWebURL(_ url: String) -> Bool {
        let lowered = url.lowercased()
        return (lowered.hasPrefix("https://") || lowered.hasPrefix("http://")) && URL(string: url)?.host != nil
    }
}

extension String {
    /// Without trailing spaces and tabs (cheaper than Foundation's trimming for hot paths).
    func trimmingTrailingBlanks() -> String {
        var end = endIndex
        while end > startIndex, self[index(before: end)] == " " || self[index(before: end)] == "\t" { end = index(before: end) }
        return String(self[..<end])
    }
}
