import Foundation
public import ModelBackends
public import PanelKit

/// How far the panel agrees with the editors: for the panel's verdict and for each persona, the share
/// of listings where the model and the editor decided alike, Cohen's κ with a bootstrap 95% interval,
/// the four confusion counts, and — where editors gave scores — Spearman's ρ between the scores and
/// the leniency (mean model score − editor score). Abstentions, split and incomplete panels are counted
/// apart and never as agreement.
public struct Evaluation: Sendable {
    public struct Group: Sendable {
        public var confusion = Statistics.Confusion()
        public var kappa: Double?
        public var kappaInterval: (Double, Double)?
        public var kappaReason: String?
        public var spearman: Double?
        public var leniency: Double?
        public var scored = 0
        /// Decisions left out, by why: abstained, split, incomplete.
        public var excluded: [String: Int] = [:]

        public var n: Int { confusion.total }
    }

    public var panel: Group
    public var personas: [(id: String, group: Group)]
    /// Each answering backend's reviews, whatever persona they were for: what `quality: measured` reads.
    public var backends: [(name: String, group: Group)]
    public var labelCount: Int
    /// Labels naming no listing in the documents.
    public var unmatched: [String]
    /// Listings in the documents with no label.
    public var unlabelled: Int
    /// Tool names reviewed in more than one document, with how many: each counts once, from the newest
    /// document, and the others are left out (said, never silent).
    public var duplicates: [(name: String, documents: Int)] = []

    /// One listing's decisions: the model's (verdict or why there is none, score) and the editor's.
    struct Pair {
        var model: Verdict?
        var score: Double?
        var reason: String?
        var editor: EditorLabel
    }

    /// Compares the documents' listings with the labels (by listing name; a listing in several
    /// documents counts once, from the newest). `seed` fixes the bootstrap.
    public static func evaluate(_ documents: [ReviewDocument], labels: [EditorLabel], resamples: Int = 2000) -> Evaluation {
        var tools: [String: ReviewDocument.Tool] = [:]
        var stamps: [String: String] = [:]
        var personaOrder: [String] = []
        var seen: [String: Int] = [:]
        for document in documents {
            for tool in Set(document.tools.map(\.name)) { seen[tool, default: 0] += 1 }
            for persona in document.personas.map(\.id) where !personaOrder.contains(persona) { personaOrder.append(persona) }
            for tool in document.tools where stamps[tool.name].map({ $0 <= document.generatedAt }) ?? true {
                tools[tool.name] = tool
                stamps[tool.name] = document.generatedAt
            }
        }
        let byName = Dictionary(labels.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var panelPairs: [Pair] = []
        var personaPairs: [String: [Pair]] = [:]
        var backendPairs: [String: [Pair]] = [:]
        for (name, tool) in tools.sorted(by: { $0.key < $1.key }) {
            guard let label = byName[name] else { continue }
            let verdict: Verdict? =
                switch tool.panel.verdict {
                case .ship: .ship
                case .skip: .skip
                case .split, .incomplete: nil
                }
            panelPairs.append(
                Pair(
                    model: verdict, score: tool.panel.scoreMedian, reason: verdict == nil ? tool.panel.verdict.rawValue : nil, editor: label
                ))
            for review in tool.reviews {
                if !personaOrder.contains(review.persona) { personaOrder.append(review.persona) }
                let answered = review.status == .answered ? review.verdict : nil
                let pair = Pair(
                    model: answered, score: review.score.map(Double.init), reason: answered == nil ? "abstained" : nil, editor: label)
                personaPairs[review.persona, default: []].append(pair)
                if let backend = review.backend { backendPairs[backend, default: []].append(pair) }
            }
        }
        let seed = SeededRandom.seed(labels.map { "\($0.name)=\($0.verdict.rawValue)" }.sorted().joined(separator: "\n"))
        var evaluation = Evaluation(
            panel: group(panelPairs, seed: seed, resamples: resamples),
            personas: personaOrder.compactMap { id in
                personaPairs[id].map { (id, group($0, seed: seed &+ SeededRandom.seed(id), resamples: resamples)) }
            },
            backends: backendPairs.keys.sorted().map {
                ($0, group(backendPairs[$0]!, seed: seed &+ SeededRandom.seed("backend:" + $0), resamples: resamples))
            },
            labelCount: labels.count, unmatched: labels.map(\.name).filter { tools[$0] == nil }.sorted(),
            unlabelled: tools.keys.filter { byName[$0] == nil }.count)
        evaluation.duplicates = seen.filter { $0.value > 1 }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return evaluation
    }

    static func group(_ pairs: [Pair], seed: UInt64, resamples: Int) -> Group {
        var group = Group()
        var decided: [(Bool, Bool)] = []
        var scores: [(Double, Double)] = []
        for pair in pairs {
            guard let model = pair.model else {
                group.excluded[pair.reason ?? "abstained", default: 0] += 1
                continue
            }
            decided.append((model == .ship, pair.editor.verdict == .ship))
            if let score = pair.score, let editor = pair.editor.score { scores.append((score, editor)) }
        }
        group.confusion = Statistics.Confusion(decided)
        group.kappa = Statistics.cohensKappa(group.confusion)
        if decided.isEmpty {
            group.kappaReason = "no listing has both a model verdict and a label"
        } else if group.kappa == nil {
            group.kappaReason = "undefined: the model and the editors each used one verdict only (chance agreement is total)"
        } else {
            group.kappaInterval = Statistics.bootstrapInterval(count: decided.count, resamples: resamples, seed: seed) { sample in
                Statistics.cohensKappa(Statistics.Confusion(sample.map { decided[$0] }))
            }
        }
        group.scored = scores.count
        group.spearman = Statistics.spearman(scores.map(\.0), scores.map(\.1))
        group.leniency = Statistics.mean(scores.map { $0.0 - $0.1 })
        return group
    }

    // MARK: output

    static func rounded(_ value: Double?, _ places: Double = 10_000) -> JSONValue { .rounded(value, places) }

    static func json(_ group: Group) -> JSONValue {
        var object: [String: JSONValue] = [
            "n": .int(group.n), "agreement": rounded(group.confusion.agreement), "kappa": rounded(group.kappa),
            "kappa_ci": group.kappaInterval.map { .array([rounded($0.0), rounded($0.1)]) } ?? .null,
            "model_ship_editor_ship": .int(group.confusion.yesYes), "model_ship_editor_skip": .int(group.confusion.yesNo),
            "model_skip_editor_ship": .int(group.confusion.noYes), "model_skip_editor_skip": .int(group.confusion.noNo),
            "spearman": rounded(group.spearman), "leniency": rounded(group.leniency, 100), "scored": .int(group.scored),
            "excluded": .object(group.excluded.mapValues(JSONValue.int)),
        ]
        if let reason = group.kappaReason { object["kappa_reason"] = .string(reason) }
        return .object(object)
    }

    /// `{"panel": {...}, "personas": {"builder": {...}, ...}, "labels": {...}}`.
    public func json() -> JSONValue {
        .object([
            "panel": Self.json(panel),
            "personas": .object(Dictionary(uniqueKeysWithValues: personas.map { ($0.id, Self.json($0.group)) })),
            "backends": .object(Dictionary(uniqueKeysWithValues: backends.map { ($0.name, Self.json($0.group)) })),
            "labels": .object([
                "count": .int(labelCount), "unmatched": .array(unmatched.map(JSONValue.string)), "unlabelled_listings": .int(unlabelled),
                "duplicates": .array(duplicates.map { .object(["name": .string($0.name), "documents": .int($0.documents)]) }),
            ]),
        ])
    }

    public func markdown() -> String {
        func number(_ value: Double?) -> String { value.map { CFormat.double("%.2f", $0) } ?? "—" }
        func row(_ name: String, _ group: Group) -> String {
            let kappa =
                group.kappa.map { kappa in
                    number(kappa) + (group.kappaInterval.map { " (\(number($0.0))–\(number($0.1)))" } ?? "")
                } ?? "undefined"
            let excluded = group.excluded.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            let cells = [
                name, "\(group.n)", group.confusion.agreement.map { CFormat.double("%.0f", $0 * 100) + "%" } ?? "—", kappa,
                "\(group.confusion.yesYes)", "\(group.confusion.yesNo)", "\(group.confusion.noYes)", "\(group.confusion.noNo)",
                number(group.spearman), group.leniency.map { CFormat.double("%+.1f", $0) } ?? "—", excluded.isEmpty ? "—" : excluded,
            ]
            return "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |"
        }
        var lines = [
            "# Agreement with the editors", "",
            "\(labelCount) label(s); \(panel.n + panel.excluded.values.reduce(0, +)) labelled listing(s) in the documents; \(unlabelled) listing(s) without a label.",
            "",
            "| | n | agreement | κ (95% CI) | ship/ship | ship/skip | skip/ship | skip/skip | Spearman | leniency | left out |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            row("**Panel**", panel),
        ]
        for (id, group) in personas { lines.append(row(id.capitalized, group)) }
        for (name, group) in backends { lines.append(row("backend " + name, group)) }
        lines.append("")
        lines.append(
            "Columns ship/skip read *model/editor*. κ is Cohen's kappa (agreement beyond chance; 1 perfect, 0 chance); its interval is a bootstrap over listings. Spearman compares scores where editors gave one; leniency is the mean model score minus the editor's."
        )
        if let reason = panel.kappaReason { lines += ["", "Panel κ: \(reason)."] }
        if let notice = duplicatesNotice { lines += ["", notice] }
        if !unmatched.isEmpty {
            lines += [
                "",
                "Labels naming no listing in the documents: \(unmatched.prefix(20).joined(separator: ", "))\(unmatched.count > 20 ? ", …" : "").",
            ]
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Evaluation {
    /// "Reviewed in more than one document …": which tool names were, and that each counted once.
    public var duplicatesNotice: String? {
        guard !duplicates.isEmpty else { return nil }
        let names = duplicates.prefix(20).map { "\($0.name) (\($0.documents) documents)" }.joined(separator: ", ")
        return
            "Reviewed in more than one document, each counted once, from the newest document: \(names)\(duplicates.count > 20 ? ", …" : "")."
    }
}

/// What `quality: measured` gives a backend: its agreement with the editors, from `panel eval --save`.
public struct MeasuredQuality: Sendable, Hashable {
    public var backend: String
    public var kappa: Double?
    public var agreement: Double?
    public var n: Int

    public init(backend: String, kappa: Double?, agreement: Double?, n: Int) {
        self.backend = backend
        self.kappa = kappa
        self.agreement = agreement
        self.n = n
    }

    /// Listings a measurement needs before it counts; fewer leave the backend at the middle, 3.
    public static let minimumListings = 10

    /// The router's 1–5 quality: `1 + round(4 × max(0, κ))` — chance agreement or worse is 1, perfect
    /// agreement 5 — from at least ``minimumListings`` labelled listings, else 3 (unknown).
    public var quality: Int {
        guard n >= Self.minimumListings, let kappa else { return 3 }
        return min(5, max(1, 1 + Int((4 * max(0, kappa)).rounded())))
    }
}

extension JSONValue {
    /// A figure for the trust reports, rounded to `1 / places` (null when there is none).
    static func rounded(_ value: Double?, _ places: Double) -> JSONValue {
        value.map { .double(($0 * places).rounded() / places) } ?? .null
    }
}
