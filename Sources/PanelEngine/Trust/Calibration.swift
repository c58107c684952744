import Foundation
public import PanelKit
import Yams

/// A monotone map from each persona-and-model's raw scores to the editors' scale, fitted by isotonic
/// regression on (raw score, editor score) pairs (`panel calibrate`), applied to documents as a
/// `calibrated_score` beside the raw one (`--calibration FILE`). Between fitted points the map is
/// linear; outside them it holds the end values.
public struct Calibration: Sendable, Hashable {
    public struct Map: Sendable, Hashable {
        public var persona: String
        /// The answering model (or backend when no model was reported).
        public var model: String
        /// Fitted (raw, calibrated) points, raw ascending, calibrated non-decreasing.
        public var points: [[Double]]
        /// Labelled scores it was fitted on.
        public var n: Int

        public init(persona: String, model: String, points: [[Double]], n: Int) {
            self.persona = persona
            self.model = model
            self.points = points
            self.n = n
        }

        public func callAsFunction(_ raw: Double) -> Double {
            guard let first = points.first, let last = points.last else { return raw }
            if raw <= first[0] { return first[1] }
            if raw >= last[0] { return last[1] }
            for (a, b) in zip(points, points.dropFirst()) where raw <= b[0] {
                return b[0] == a[0] ? b[1] : a[1] + (raw - a[0]) / (b[0] - a[0]) * (b[1] - a[1])
            }
            return last[1]
        }
    }

    public var maps: [Map]
    public var source: String

    public init(maps: [Map], source: String) {
        self.maps = maps
        self.source = source
    }

    static func model(of review: ReviewDocument.Review) -> String { review.model ?? review.backend ?? "unknown" }

    /// Fits a map per persona and model from the documents' answered reviews whose listing an editor
    /// scored. A persona-model pair needs at least `minimum` labelled scores.
    public static func fit(_ documents: [ReviewDocument], labels: [EditorLabel], minimum: Int = 3) -> Calibration {
        let scores = Dictionary(labels.compactMap { label in label.score.map { (label.name, $0) } }, uniquingKeysWith: { a, _ in a })
        var pairs: [String: (persona: String, model: String, x: [Double], y: [Double])] = [:]
        for document in documents {
            for tool in document.tools {
                guard let editor = scores[tool.name] else { continue }
                for review in tool.reviews where review.status == .answered {
                    guard let raw = review.scoreMedian ?? review.score.map(Double.init) else { continue }
                    let key = review.persona + "\u{0}" + model(of: review)
                    var entry = pairs[key] ?? (review.persona, model(of: review), [], [])
                    entry.x.append(raw)
                    entry.y.append(editor)
                    pairs[key] = entry
                }
            }
        }
        let maps = pairs.values.filter { $0.x.count >= minimum }.map { entry in
            Map(
                persona: entry.persona, model: entry.model,
                points: Statistics.isotonic(x: entry.x, y: entry.y).map { [$0.x, ($0.y * 100).rounded() / 100] }, n: entry.x.count)
        }
        return Calibration(maps: maps.sorted { ($0.persona, $0.model) < ($1.persona, $1.model) }, source: "fitted")
    }

    /// Sets `calibrated_score` on every answered review a map covers.
    public func apply(to document: inout ReviewDocument) {
        for t in document.tools.indices {
            for r in document.tools[t].reviews.indices {
                let review = document.tools[t].reviews[r]
                guard review.status == .answered, let raw = review.scoreMedian ?? review.score.map(Double.init),
                    let map = maps.first(where: { $0.persona == review.persona && $0.model == Self.model(of: review) })
                else { continue }
                document.tools[t].reviews[r].calibratedScore = (map(raw) * 10).rounded() / 10
            }
        }
    }

    // MARK: the file

    public func yaml() -> String {
        var lines = [
            "# panel calibration: editors' scale per persona and model, fitted by isotonic regression (panel calibrate).",
            "# Each map's points are (raw score, calibrated score); between them the map is linear, outside them flat.",
            "calibrations:",
        ]
        for map in maps {
            lines.append("  - persona: \(Self.quoted(map.persona))")
            lines.append("    model: \(Self.quoted(map.model))")
            lines.append("    n: \(map.n)")
            lines.append(
                "    points: [" + map.points.map { "[\(Self.number($0[0])), \(Self.number($0[1]))]" }.joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    public static func load(path: String) throws(LabelError) -> Calibration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw LabelError("\(path): cannot be read") }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source path: String) throws(LabelError) -> Calibration {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw LabelError("\(path): is not valid YAML")
        }
        guard let list = node?.mapping?["calibrations"]?.sequence else {
            throw LabelError("\(path): must have 'calibrations:', a list of {persona, model, points} (panel calibrate writes it)")
        }
        var maps: [Map] = []
        for (index, item) in list.enumerated() {
            let at = "\(path): calibrations[\(index)]"
            guard let persona = item.mapping?["persona"]?.string, let model = item.mapping?["model"]?.string else {
                throw LabelError("\(at): needs 'persona' and 'model'")
            }
            guard let points = item.mapping?["points"]?.sequence, !points.isEmpty else {
                throw LabelError("\(at).points: a list of [raw, calibrated]")
            }
            var values: [[Double]] = []
            for point in points {
                guard let pair = point.sequence, pair.count == 2, let raw = pair[0].string.flatMap(Double.init),
                    let calibrated = pair[1].string.flatMap(Double.init), (0...100).contains(raw), (0...100).contains(calibrated)
                else { throw LabelError("\(at).points: each point is [raw, calibrated], both from 0 to 100") }
                if let last = values.last, raw <= last[0] || calibrated < last[1] {
                    throw LabelError("\(at).points: raw scores must increase and calibrated ones never decrease (a monotone map)")
                }
                values.append([raw, calibrated])
            }
            maps.append(Map(persona: persona, model: model, points: values, n: item.mapping?["n"]?.int ?? 0))
        }
        return Calibration(maps: maps, source: path)
    }
}
