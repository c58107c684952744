import Foundation
import PanelKit

/// `panel stats` as Markdown, and as a standalone HTML page whose histograms and agreement matrix are
/// inline SVG (no script, no request elsewhere; every name from the documents escaped).
extension PanelStats {
    static func percent(_ value: Double?) -> String { value.map { CFormat.double("%.0f", $0 * 100) + "%" } ?? "—" }
    static func decimal(_ value: Double?, _ format: StaticString = "%.2f") -> String { value.map { CFormat.double(format, $0) } ?? "—" }

    static let explanations = [
        "**Histogram**: how many scores fell in 0–9, 10–19 … 90–100. Judges bunch on the upper half and on round numbers.",
        "**On ×5 / ×10**: the share of scores that are multiples of 5 or 10 (by chance about 20% and 10%); far more means the scale is used coarsely.",
        "**Ship rate**: the share of votes that were ship. **Flip rate**: with `--samples`, the mean share of a persona's samples that disagreed with its majority — how often asking again changes the verdict.",
        "**Claims**: figures, prices, licences, dates and versions in the paragraphs, checked against the listing; **unsupported** — the listing says nothing of it; **contradicted** — the listing says otherwise (as shares of the claims, and flagged claims per review).",
        "**Krippendorff's α**: agreement between personas beyond chance, on scores (interval) and verdicts (nominal); 1 is perfect, 0 is chance, below 0 is systematic disagreement.",
        "**Spearman's ρ**: how alike two personas rank the same tools. **Effective opinions**: `n / (1 + (n − 1) ρ̄)` — what n correlated personas are worth in independent opinions (n when ρ̄ ≤ 0).",
    ]

    public func markdown() -> String {
        func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
        func rows(_ distributions: [Distribution]) -> [String] {
            [
                "| | scores | histogram (0–9 … 90–100) | on ×5 | on ×10 | mean | median | SD | ship rate | flip rate | claims | unsupported | contradicted | flagged per review |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            ]
                + distributions.map { d in
                    let cells = [
                        cell(d.name), "\(d.scores.count)", d.histogram.map(String.init).joined(separator: " "), Self.percent(d.onFive),
                        Self.percent(d.onTen), Self.decimal(Statistics.mean(d.scores), "%.1f"),
                        Self.decimal(Statistics.median(d.scores), "%.1f"),
                        Self.decimal(Statistics.standardDeviation(d.scores), "%.1f"), Self.percent(d.shipRate), Self.percent(d.flipRate),
                        d.checkedReviews == 0 ? "—" : "\(d.claims.total)", Self.percent(d.unsupportedRate),
                        Self.percent(d.contradictedRate),
                        Self.decimal(d.flaggedPerReview),
                    ]
                    return "| " + cells.joined(separator: " | ") + " |"
                }
        }
        var lines = ["# How the panel scores", "", "\(documents) document(s), \(tools) tool review(s).", "", "## By persona", ""]
        lines += rows(personas)
        lines += ["", "## By backend and model", ""]
        lines += rows(backends)
        lines += [
            "", "## Agreement between personas", "",
            "- Krippendorff's α, scores (interval): \(Self.decimal(alphaScores))",
            "- Krippendorff's α, verdicts (nominal): \(Self.decimal(alphaVerdicts))",
            "- Mean pairwise Spearman ρ: \(Self.decimal(meanCorrelation)); effective independent opinions: \(Self.decimal(effectiveOpinions, "%.1f")) of \(personaIDs.count)",
            "", "| ρ | " + personas.map { cell($0.name) }.joined(separator: " | ") + " |",
            "|---|" + personas.map { _ in "---|" }.joined(),
        ]
        for (i, persona) in personas.enumerated() {
            lines.append("| **\(cell(persona.name))** | " + spearman[i].map { Self.decimal($0) }.joined(separator: " | ") + " |")
        }
        lines += ["", "## Reading the figures", ""] + Self.explanations.map { "- " + $0 }
        return lines.joined(separator: "\n") + "\n"
    }

    static func escape(_ text: String) -> String { Template.escaped(text, .html) }

    /// Bars for the ten bins, labelled for screen readers.
    static func histogramSVG(_ distribution: Distribution) -> String {
        let bins = distribution.histogram
        let top = max(1, bins.max() ?? 1)
        var bars = ""
        for (index, count) in bins.enumerated() {
            let height = Double(count) / Double(top) * 60
            bars +=
                "<rect x=\"\(index * 22 + 2)\" y=\(CFormat.double("\"%.1f\"", 64 - height)) width=\"18\" height=\(CFormat.double("\"%.1f\"", height)) class=\"bar\"><title>\(index * 10)–\(index == 9 ? 100 : index * 10 + 9): \(count)</title></rect>"
        }
        let label = escape("\(distribution.name): " + bins.enumerated().map { "\($0.offset * 10)s \($0.element)" }.joined(separator: ", "))
        return
            "<svg class=\"histogram\" viewBox=\"0 0 222 80\" role=\"img\" aria-label=\"\(label)\">\(bars)<line x1=\"0\" y1=\"64.5\" x2=\"222\" y2=\"64.5\" class=\"axis\"/><text x=\"2\" y=\"78\">0</text><text x=\"200\" y=\"78\">100</text></svg>"
    }

    /// The personas' pairwise Spearman ρ as a shaded grid.
    func matrixSVG() -> String {
        let size = 48
        let n = personas.count
        var cells = ""
        for i in 0..<n {
            for j in 0..<n {
                let value = spearman[i][j]
                let shade = value.map { CFormat.double("%.2f", max(0.08, abs($0))) } ?? "0.04"
                let hue = (value ?? 0) < 0 ? "neg" : "pos"
                cells +=
                    "<rect x=\"\(j * size + 80)\" y=\"\(i * size + 4)\" width=\"\(size - 2)\" height=\"\(size - 2)\" class=\"\(hue)\" fill-opacity=\"\(shade)\"><title>\(Self.escape(personas[i].name)) · \(Self.escape(personas[j].name)): \(Self.decimal(value))</title></rect>"
                cells +=
                    "<text x=\"\(j * size + 80 + size / 2 - 1)\" y=\"\(i * size + 4 + size / 2 + 4)\" text-anchor=\"middle\">\(Self.decimal(value))</text>"
            }
            cells +=
                "<text x=\"76\" y=\"\(i * size + 4 + size / 2 + 4)\" text-anchor=\"end\">\(Self.escape(String(personas[i].name.prefix(10))))</text>"
        }
        return
            "<svg class=\"matrix\" viewBox=\"0 0 \(80 + n * size + 4) \(n * size + 8)\" role=\"img\" aria-label=\"Spearman correlation between personas\">\(cells)</svg>"
    }

    public func html() -> String {
        func table(_ distributions: [Distribution]) -> String {
            var rows = ""
            for d in distributions {
                rows +=
                    "<tr><th scope=\"row\">\(Self.escape(d.name))</th><td>\(Self.histogramSVG(d))</td><td>\(d.scores.count)</td><td>\(Self.percent(d.onFive))</td><td>\(Self.percent(d.onTen))</td><td>\(Self.decimal(Statistics.mean(d.scores), "%.1f"))</td><td>\(Self.decimal(Statistics.median(d.scores), "%.1f"))</td><td>\(Self.decimal(Statistics.standardDeviation(d.scores), "%.1f"))</td><td>\(Self.percent(d.shipRate))</td><td>\(Self.percent(d.flipRate))</td><td>\(d.checkedReviews == 0 ? "—" : "\(d.claims.total)")</td><td data-figure=\"unsupported-rate\">\(Self.percent(d.unsupportedRate))</td><td data-figure=\"contradicted-rate\">\(Self.percent(d.contradictedRate))</td><td>\(Self.decimal(d.flaggedPerReview))</td></tr>\n"
            }
            return
                "<div class=\"table-wrap\"><table><thead><tr><th scope=\"col\"></th><th scope=\"col\">Histogram (0–100)</th><th scope=\"col\">Scores</th><th scope=\"col\">On ×5</th><th scope=\"col\">On ×10</th><th scope=\"col\">Mean</th><th scope=\"col\">Median</th><th scope=\"col\">SD</th><th scope=\"col\">Ship rate</th><th scope=\"col\">Flip rate</th><th scope=\"col\">Claims</th><th scope=\"col\">Unsupported</th><th scope=\"col\">Contradicted</th><th scope=\"col\">Flagged per review</th></tr></thead><tbody>\n\(rows)</tbody></table></div>"
        }
        let notes = Self.explanations.map { note in
            "<li>" + Self.escape(note).replacingOccurrences(of: "**", with: "").replacingOccurrences(of: "`", with: "") + "</li>"
        }.joined()
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="generator" content="panel">
            <title>How the panel scores</title>
            <style>
            body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: #1b1f24; }
            main { max-width: 72rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
            table { width: 100%; border-collapse: collapse; font-size: .95rem; }
            th, td { text-align: left; vertical-align: middle; padding: .4rem .6rem; border-bottom: 1px solid #d0d7de; }
            tbody th { overflow-wrap: anywhere; }
            .table-wrap { overflow-x: auto; }
            svg.histogram { width: 11rem; height: 4rem; }
            svg .bar { fill: #0969da; } svg .axis { stroke: #57606a; } svg text { font-size: 9px; fill: #57606a; }
            svg.matrix { max-width: 32rem; width: 100%; } svg .pos { fill: #1a7f37; } svg .neg { fill: #b42318; }
            svg.matrix text { font-size: 11px; fill: #1b1f24; }
            .figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr)); gap: .5rem 1rem; padding: 0; list-style: none; }
            .figures strong { display: block; font-size: 1.4rem; }
            </style>
            </head>
            <body>
            <main>
            <h1>How the panel scores</h1>
            <p>\(documents) document(s), \(tools) tool review(s).</p>
            <h2>Agreement between personas</h2>
            <ul class="figures">
            <li><strong data-figure="alpha-scores">\(Self.decimal(alphaScores))</strong>Krippendorff's α, scores</li>
            <li><strong data-figure="alpha-verdicts">\(Self.decimal(alphaVerdicts))</strong>Krippendorff's α, verdicts</li>
            <li><strong data-figure="mean-rho">\(Self.decimal(meanCorrelation))</strong>mean Spearman ρ</li>
            <li><strong data-figure="effective-opinions">\(Self.decimal(effectiveOpinions, "%.1f")) of \(personaIDs.count)</strong>effective independent opinions</li>
            </ul>
            \(matrixSVG())
            <h2>By persona</h2>
            \(table(personas))
            <h2>By backend and model</h2>
            \(table(backends))
            <h2>Reading the figures</h2>
            <ul>\(notes)</ul>
            </main>
            </body>
            </html>

            """
    }
}
