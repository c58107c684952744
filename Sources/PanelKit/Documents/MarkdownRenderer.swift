import Foundation

/// Renders a document as GitHub-flavoured Markdown: title, tool cards, decision table, reviewer
/// scorecard and footer, in that order. Untrusted text (listings, model answers) has HTML
/// metacharacters escaped, and table cells escape `|` and line breaks. Output is deterministic for a
/// given document, so it suits golden-file tests.
public struct MarkdownRenderer: Sendable {
    public init() {}

    public func render(_ doc: ReviewDocument) -> String {
        var out: [String] = []
        out.append("# \(inline(doc.title))")
        out.append("")
        if doc.kind == .comparison {
            out.append("_Which one should you ship with?_")
            out.append("")
        }
        for tool in doc.tools { out.append(contentsOf: card(tool)) }
        out.append(contentsOf: decisionTable(doc))
        out.append(contentsOf: scorecard(doc))
        out.append(contentsOf: footer(doc))
        return out.joined(separator: "\n") + "\n"
    }

    func card(_ tool: ReviewDocument.Tool) -> [String] {
        var lines = ["## \(inline(tool.name))", ""]
        let subtitle = [tool.category.map { "**\(inline($0))**" }, tool.tagline.map(inline)].compactMap { $0 }
        if !subtitle.isEmpty {
            lines.append(subtitle.joined(separator: " · "))
            lines.append("")
        }
        lines.append("- **Panel verdict:** \(verdictText(tool.panel))")
        lines.append("- **Panel ship share:** \(shareText(tool.panel))")
        lines.append("- **Community:** \(tool.community.map(inline) ?? "No community votes yet")")
        lines.append("- **Entry:** \(tool.entry.map(inline) ?? "—")")
        if let url = tool.url, Self.isWebURL(url) { lines.append("- **Link:** <\(url.replacingOccurrences(of: ">", with: "%3E"))>") }
        lines.append("")
        lines.append(contentsOf: paragraph(tool.description).split(separator: "\n", omittingEmptySubsequences: false).map { "> \($0)" })
        lines.append("")
        return lines
    }

    func decisionTable(_ doc: ReviewDocument) -> [String] {
        var lines = ["## Decision table", ""]
        lines.append("| | " + doc.tools.map { cell($0.name) }.joined(separator: " | ") + " |")
        lines.append("|---|" + doc.tools.map { _ in "---|" }.joined())
        func row(_ label: String, _ value: (ReviewDocument.Tool) -> String?) {
            lines.append("| **\(label)** | " + doc.tools.map { value($0).map(cell) ?? "—" }.joined(separator: " | ") + " |")
        }
        row("Panel verdict") { verdictText($0.panel) }
        row("Median score") { $0.panel.scoreMedian.map { "\(Self.number($0))/100" } }
        row("Community") { $0.community ?? "No community votes yet" }
        row("Pricing") { $0.pricing }
        row("Best for") { $0.bestFor }
        row("Category") { $0.category }
        lines.append("")
        return lines
    }

    func scorecard(_ doc: ReviewDocument) -> [String] {
        var lines = ["## Reviewer scorecard", ""]
        let ids =
            doc.personas.map(\.id) + doc.tools.flatMap { $0.reviews.map(\.persona) }.filter { id in !doc.personas.contains { $0.id == id } }
        var seen = Set<String>()
        for id in ids where seen.insert(id).inserted {
            let info = doc.personas.first { $0.id == id }
            lines.append("### \(inline(doc.personaName(id)))")
            lines.append("")
            if let weighs = info?.weighs {
                lines.append("_Weighs \(inline(weighs))._")
                lines.append("")
            }
            for tool in doc.tools {
                guard let review = tool.reviews.first(where: { $0.persona == id }) else { continue }
                let prefix = doc.tools.count > 1 ? "**\(inline(tool.name))** — " : ""
                switch review.status {
                case .answered:
                    var head = prefix + "**\(review.score.map(String.init) ?? "?")/100 · \(review.verdict?.rawValue ?? "?")**"
                    if let by = answeredBy(review) { head += " _(\(inline(by)))_" }
                    lines.append(head)
                    if review.flags.contains(PersonaResult.contradictionFlag) {
                        lines.append("")
                        lines.append("> ⚠ The verdict contradicts the score — check this review.")
                    }
                    lines.append("")
                    lines.append(paragraph(review.text ?? ""))
                case .abstained:
                    lines.append(prefix + "**Abstained** — \(inline(review.error ?? "no reason given"))")
                }
                lines.append("")
            }
        }
        return lines
    }

    func footer(_ doc: ReviewDocument) -> [String] {
        let reviews = doc.tools.flatMap(\.reviews)
        let answered = reviews.filter { $0.status == .answered }.count
        var models: [String] = []
        for review in reviews {
            guard let by = answeredBy(review), !models.contains(by) else { continue }
            models.append(by)
        }
        let totals = doc.totals
        var parts = ["\(answered) of \(reviews.count) reviews answered"]
        parts.append("models: " + (models.isEmpty ? "none" : models.map(inline).joined(separator: ", ")))
        parts.append("calls: \(totals.calls)")
        if let input = totals.inputTokens, let output = totals.outputTokens {
            parts.append("tokens: \(input) in / \(output) out")
        } else {
            parts.append("tokens: not reported")
        }
        parts.append("cost: " + (totals.costUSD.map { String(format: "$%.4f", $0) } ?? "unknown"))
        parts.append("wall time: " + String(format: "%.1f s", Double(totals.wallMS) / 1000))
        parts.append("generated \(inline(doc.generatedAt))")
        return ["---", "", "_" + parts.joined(separator: " · ") + "_"]
    }

    // MARK: text

    func verdictText(_ panel: ReviewDocument.Panel) -> String { panel.headline }

    func shareText(_ panel: ReviewDocument.Panel) -> String {
        guard let share = panel.shipShare else { return "no votes" }
        return "\(Int((share * 100).rounded()))% (\(panel.ship) of \(panel.ship + panel.skip) votes)"
    }

    func answeredBy(_ review: ReviewDocument.Review) -> String? {
        switch (review.backend, review.model) {
        case (let backend?, let model?) where backend != model: return "\(backend) · \(model)"
        case (let backend?, _): return backend
        case (nil, let model?): return model
        default: return nil
        }
    }

    /// Escapes HTML metacharacters so untrusted text cannot become markup in a Markdown viewer.
    func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;")
            .replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// One line of untrusted text.
    func inline(_ text: String) -> String {
        escape(text).split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// A paragraph of untrusted text, blank lines collapsed.
    func paragraph(_ text: String) -> String {
        escape(text).components(separatedBy: .newlines).map { $0.trimmingCharacters(in: .whitespaces) }
            .split(separator: "", omittingEmptySubsequences: true).map { $0.joined(separator: " ") }
            .joined(separator: "\n\n")
    }

    /// A table cell: one line, `|` escaped.
    func cell(_ text: String) -> String {
        inline(text).replacingOccurrences(of: "|", with: "\\|")
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }

    static func isWebURL(_ url: String) -> Bool {
        let lowered = url.lowercased()
        return lowered.hasPrefix("https://") || lowered.hasPrefix("http://")
    }
}
