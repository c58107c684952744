import Foundation

/// The values document templates see, built from a v1 document alone (so `panel render` and a live
/// review render identically).
///
/// Text is raw here: templates escape it (`{{x}}` is HTML-escaped in both the HTML and Markdown
/// templates). Fields ending in `_cell` are also folded to one line with `|` escaped, for Markdown
/// table cells. Links appear only when they are http(s).
public enum DocumentViewModel {
    public static func make(_ doc: ReviewDocument) -> [String: Any] {
        let reviews = doc.tools.flatMap(\.reviews)
        let answered = reviews.filter { $0.status == .answered }
        var models: [String] = []
        for review in reviews {
            if let by = answeredBy(review), !models.contains(by) { models.append(by) }
        }
        let families = Set(answered.compactMap { ModelFamily.guess(model: $0.model, backend: $0.backend) }).sorted()
        var footer: [String: Any] = [
            "answered": answered.count, "total": reviews.count, "models": models.joined(separator: ", "),
            "calls": doc.totals.calls, "generated_at": doc.generatedAt,
            "tokens": doc.totals.inputTokens.flatMap { input in doc.totals.outputTokens.map { "\(input) in / \($0) out" } }
                ?? "not reported",
            "cost": doc.totals.costUSD.map { String(format: "$%.4f", $0) } ?? "unknown",
            "wall": String(format: "%.1f s", Double(doc.totals.wallMS) / 1000),
            "families": families.count, "family_names": families.joined(separator: ", "),
        ]
        if families.count == 1 && answered.count > 1 { footer["single_model_panel"] = true }
        return [
            "title": doc.title, "is_comparison": doc.kind == .comparison, "tool_count": doc.tools.count,
            "tools": doc.tools.map(tool), "decision_rows": decisionRows(doc), "personas": personaRows(doc), "footer": footer,
        ]
    }

    static func tool(_ tool: ReviewDocument.Tool) -> [String: Any] {
        let panel = tool.panel
        var values: [String: Any] = [
            "name": tool.name, "name_cell": cell(tool.name), "initial": String(tool.name.first.map { String($0).uppercased() } ?? "?"),
            "verdict": panel.verdict.rawValue, "verdict_label": panel.verdict.rawValue.capitalized, "headline": panel.headline,
            "community": tool.community ?? "No community votes yet", "has_community": tool.community != nil,
            "entry": tool.entry ?? "—", "description": paragraphs(tool.description),
            "share": panel.shipShare.map { "\(Int(($0 * 100).rounded()))%" } ?? "no votes",
            "share_percent": panel.shipShare.map { Int(($0 * 100).rounded()) } ?? 0,
            "votes": "\(panel.ship) of \(panel.ship + panel.skip) votes", "abstained": panel.abstained,
        ]
        if panel.abstained == 0 { values["abstained"] = nil }
        let subtitle = [tool.category, tool.tagline].compactMap { $0 }.joined(separator: " · ")
        if !subtitle.isEmpty { values["subtitle"] = subtitle }
        if let category = tool.category { values["category"] = category }
        if let tagline = tool.tagline { values["tagline"] = tagline }
        if let url = tool.url, isWebURL(url) { values["url"] = url }
        return values
    }

    static func decisionRows(_ doc: ReviewDocument) -> [[String: Any]] {
        func row(_ label: String, _ value: (ReviewDocument.Tool) -> String?) -> [String: Any] {
            [
                "label": label,
                "cells": doc.tools.map { tool -> [String: Any] in
                    let text = value(tool) ?? "—"; return ["value": text, "value_cell": cell(text)]
                },
            ]
        }
        return [
            row("Panel verdict") { $0.panel.headline },
            row("Median score") { $0.panel.scoreMedian.map { "\(number($0))/100" } },
            row("Community") { $0.community ?? "No community votes yet" },
            row("Pricing") { $0.pricing },
            row("Best for") { $0.bestFor },
            row("Category") { $0.category },
        ]
    }

    static func personaRows(_ doc: ReviewDocument) -> [[String: Any]] {
        var ids = doc.personas.map(\.id)
        for id in doc.tools.flatMap({ $0.reviews.map(\.persona) }) where !ids.contains(id) { ids.append(id) }
        return ids.map { id in
            var row: [String: Any] = [
                "id": id, "name": doc.personaName(id),
                "reviews": doc.tools.map { tool -> [String: Any] in
                    guard let review = tool.reviews.first(where: { $0.persona == id }) else {
                        return ["tool": tool.name, "tool_cell": cell(tool.name), "missing": true]
                    }
                    return self.review(review, tool: tool)
                },
            ]
            if let weighs = doc.personas.first(where: { $0.id == id })?.weighs { row["weighs"] = weighs }
            return row
        }
    }

    static func review(_ review: ReviewDocument.Review, tool: ReviewDocument.Tool) -> [String: Any] {
        var values: [String: Any] = ["tool": tool.name, "tool_cell": cell(tool.name)]
        switch review.status {
        case .answered:
            let score = review.score ?? 0
            values["answered"] = true
            values["score"] = score
            values["verdict"] = review.verdict?.rawValue ?? "?"
            values["score_line"] = "\(score)/100 · \(review.verdict?.rawValue ?? "?")"
            values["text"] = paragraphs(review.text ?? "")
            values["contradiction"] = review.flags.contains(PersonaResult.contradictionFlag)
            values["repaired"] = review.flags.contains(PersonaResult.repairedFlag)
            values["cached"] = review.flags.contains(PersonaResult.cachedFlag)
        case .abstained:
            values["abstained"] = true
            values["reason"] = review.error ?? "no reason given"
        }
        if let by = answeredBy(review) { values["by"] = by }
        return values
    }

    static func answeredBy(_ review: ReviewDocument.Review) -> String? {
        switch (review.backend, review.model) {
        case (let backend?, let model?) where backend != model: return "\(backend) · \(model)"
        case (let backend?, _): return backend
        case (nil, let model?): return model
        default: return nil
        }
    }

    /// Paragraphs of untrusted text, blank lines separating them, each folded to one line.
    static func paragraphs(_ text: String) -> [[String: String]] {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map {
            String($0.drop { $0 == " " || $0 == "\t" }).trimmingTrailingBlanks()
        }
        return lines.split(separator: "", omittingEmptySubsequences: true).map { ["text": $0.joined(separator: " ")] }
    }

    /// One line with `|` escaped, for a Markdown table cell.
    static func cell(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ").replacingOccurrences(of: "|", with: "\\|")
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }

    static func isWebURL(_ url: String) -> Bool {
        let lowered = url.lowercased()
        return (lowered.hasPrefix("https://") || lowered.hasPrefix("http://")) && URL(string: url)?.host != nil
    }
}

/// A model's family, guessed from its name, for the "how many families answered" line.
public enum ModelFamily {
    static let prefixes: [(String, String)] = [
        ("gpt", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"), ("chatgpt", "openai"), ("claude", "anthropic"),
        ("mistral", "mistral"), ("mixtral", "mistral"), ("codestral", "mistral"), ("ministral", "mistral"), ("magistral", "mistral"),
        ("llama", "llama"), ("meta-llama", "llama"), ("gemini", "google"), ("gemma", "google"), ("qwen", "qwen"), ("deepseek", "deepseek"),
        ("phi", "microsoft"), ("command", "cohere"), ("grok", "xai"),
    ]

    public static func guess(model: String?, backend: String?) -> String? {
        guard let name = (model ?? backend)?.lowercased() else { return nil }
        let base = name.split(separator: "/").last.map(String.init) ?? name
        return prefixes.first { base.hasPrefix($0.0) }?.1 ?? base.split(whereSeparator: { $0 == "-" || $0 == ":" }).first.map(String.init)
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
