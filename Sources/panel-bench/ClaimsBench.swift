import ArgumentParser
import Foundation
import ModelBackends
import PanelKit

/// The claim rules on the labelled corpus (fixtures/claims/corpus.jsonl): precision, recall and the time
/// per paragraph.
struct Claims: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Claim rules: precision, recall and time per paragraph, on the corpus.")

    @Option(help: "The corpus file.") var corpus = "fixtures/claims/corpus.jsonl"
    @Option(help: "Passes over the corpus for the timing.") var passes = 200
    @Flag(help: "Print every disagreement with the labels.") var mistakes = false

    func run() throws {
        let loaded = try ClaimCorpus.load(corpus, root: FileManager.default.currentDirectoryPath)
        let score = loaded.score()
        let claims = loaded.cases.reduce(0) { $0 + $1.labels.count }
        print("claims corpus: \(loaded.cases.count) paragraphs, \(claims) labelled claims")
        for status in [Claim.Status.unsupported, .contradicted, .supported] {
            print(
                String(
                    format: "  %@ precision %.3f (%d of %d flagged)", status.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0),
                    score.precision(status), score.correct[status] ?? 0, score.predicted[status] ?? 0))
        }
        print(String(format: "  recall %.3f (%d of %d labelled claims found with their status)", score.recall, score.found, score.labelled))
        if mistakes { for line in score.mistakes { print("  - " + line) } }
        // Time: the checker is built once per listing (as a document does), then each paragraph is checked.
        let checkers = loaded.cases.map { ClaimChecker(listing: $0.listing) }
        let clock = ContinuousClock()
        var times: [Double] = []
        times.reserveCapacity(passes * loaded.cases.count)
        var found = 0
        for _ in 0..<passes {
            for (index, item) in loaded.cases.enumerated() {
                let start = clock.now
                found &+= checkers[index].claims(in: item.paragraph).count
                times.append((clock.now - start).seconds * 1e6)
            }
        }
        let listingStart = clock.now
        for item in loaded.cases { found &+= ClaimChecker(listing: item.listing).listingFigures }
        let perListing = (clock.now - listingStart).seconds * 1e6 / Double(loaded.cases.count)
        print(
            String(
                format: "  time per paragraph: p50 %.1f µs, p90 %.1f µs, p99 %.1f µs; reading a listing's figures %.1f µs (%d)",
                percentile(times, 0.5), percentile(times, 0.9), percentile(times, 0.99), perListing, found % 10))
    }
}
