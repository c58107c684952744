import Foundation
import ModelBackends

/// The labelled corpus of `fixtures/claims/corpus.jsonl` (written by `fixtures/claims/build.py`), and how
/// well the rules do on it: the test holds the figures and `panel-bench claims` prints them.
public struct ClaimCorpus: Sendable {
    public struct Label: Sendable, Hashable {
        public var text: String
        public var span: [Int]
        public var kind: String
        public var status: Claim.Status
    }

    public struct Case: Sendable {
        public var id: String
        public var listing: Listing
        public var paragraph: String
        public var labels: [Label]
    }

    public var cases: [Case]

    /// Reads the corpus; listings given as `{"file": "fixtures/listings/…"}` are loaded relative to `root`.
    public static func load(_ path: String, root: String) throws -> ClaimCorpus {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var cases: [Case] = []
        for (number, line) in text.split(separator: "\n").enumerated() {
            guard let row = JSONValue.parse(String(line)), let paragraph = row["paragraph"]?.stringValue,
                let listingValue = row["listing"]?.objectValue
            else {
                throw ListingError(file: path, problem: "line \(number + 1): not a corpus row")
            }
            let listing: Listing
            if let file = listingValue["file"]?.stringValue {
                listing = try ListingLoader.load(path: (root as NSString).appendingPathComponent(file))
            } else {
                listing = Listing(
                    name: listingValue["name"]?.stringValue ?? "", description: listingValue["description"]?.stringValue ?? "",
                    tagline: listingValue["tagline"]?.stringValue, category: listingValue["category"]?.stringValue,
                    pricing: listingValue["pricing"]?.stringValue, entry: listingValue["entry"]?.stringValue,
                    bestFor: listingValue["best_for"]?.stringValue, url: listingValue["url"]?.stringValue,
                    community: listingValue["community"]?.stringValue, source: "\(path):\(number + 1)")
            }
            let labels = (row["claims"]?.arrayValue ?? []).compactMap { claim -> Label? in
                guard let text = claim["text"]?.stringValue, let span = claim["span"]?.arrayValue?.compactMap(\.intValue),
                    span.count == 2, let status = claim["status"]?.stringValue.flatMap(Claim.Status.init(rawValue:))
                else { return nil }
                return Label(text: text, span: span, kind: claim["kind"]?.stringValue ?? "", status: status)
            }
            cases.append(Case(id: row["id"]?.stringValue ?? "\(number + 1)", listing: listing, paragraph: paragraph, labels: labels))
        }
        return ClaimCorpus(cases: cases)
    }

    /// Precision per flagged status and recall of the labelled claims; the misses, for a reader.
    public struct Score: Sendable {
        public var labelled = 0
        public var found = 0
        public var predicted: [Claim.Status: Int] = [:]
        public var correct: [Claim.Status: Int] = [:]
        public var mistakes: [String] = []

        public var recall: Double { labelled == 0 ? 1 : Double(found) / Double(labelled) }
        public func precision(_ status: Claim.Status) -> Double {
            let predicted = predicted[status] ?? 0
            return predicted == 0 ? 1 : Double(correct[status] ?? 0) / Double(predicted)
        }
    }

    /// A predicted claim is right when its span overlaps a labelled claim's with the same status; a
    /// labelled claim is found when such a prediction overlaps it.
    public func score() -> Score {
        var score = Score()
        for item in cases {
            let predicted = ClaimChecker(listing: item.listing).claims(in: item.paragraph)
            func overlaps(_ a: [Int], _ b: [Int]) -> Bool { a[0] < b[1] && b[0] < a[1] }
            for claim in predicted {
                score.predicted[claim.status, default: 0] += 1
                if item.labels.contains(where: { $0.status == claim.status && overlaps($0.span, claim.span) }) {
                    score.correct[claim.status, default: 0] += 1
                } else {
                    let label = item.labels.first { overlaps($0.span, claim.span) }
                    score.mistakes.append(
                        "\(item.id): '\(claim.text)' \(claim.kind.rawValue) read as \(claim.status.rawValue), labelled \(label?.status.rawValue ?? "no claim")"
                    )
                }
            }
            for label in item.labels {
                score.labelled += 1
                if predicted.contains(where: { $0.status == label.status && overlaps($0.span, label.span) }) {
                    score.found += 1
                } else if !predicted.contains(where: { overlaps($0.span, label.span) }) {
                    score.mistakes.append("\(item.id): '\(label.text)' (\(label.status.rawValue)) not found")
                }
            }
        }
        return score
    }
}
