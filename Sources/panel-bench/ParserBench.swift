import ArgumentParser
import Foundation
import ModelBackends
import PanelKit

/// Answer parsing time over the corpus (fixtures/answers/corpus.json), by family.
struct Parser: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Answer parsing time per answer, over the parser corpus.")

    @Option(help: "The corpus file.") var corpus = "fixtures/answers/corpus.json"
    @Option(help: "Passes over the corpus.") var passes = 200

    func run() throws {
        guard let data = FileManager.default.contents(atPath: corpus), case .array(let items)? = JSONValue.parse(data) else {
            throw ValidationError("\(corpus): not a JSON array (run from the package root)")
        }
        let cases = items.compactMap { item -> (family: String, answer: String)? in
            guard let family = item["family"]?.stringValue, let answer = item["answer"]?.stringValue else { return nil }
            return (family, answer)
        }
        let clock = ContinuousClock()
        var byFamily: [String: [Double]] = [:]
        var read = 0
        for pass in 0..<passes {
            for answerCase in cases {
                let start = clock.now
                let result = ReviewParser.parse(answerCase.answer)
                let micros = (clock.now - start).seconds * 1e6
                if pass == 0, case .success = result { read += 1 }
                byFamily[answerCase.family, default: []].append(micros)
            }
        }
        print("answer parsing, \(cases.count) corpus answers × \(passes) passes (\(read) read, \(cases.count - read) abstain):")
        print("family      answers  p50 µs   p99 µs")
        for (family, times) in byFamily.sorted(by: { $0.key < $1.key }) {
            print(
                family.padding(toLength: 12, withPad: " ", startingAt: 0)
                    + String(format: "%7d  %6.1f  %7.1f", times.count / passes, percentile(times, 0.5), percentile(times, 0.99)))
        }
        let all = byFamily.values.flatMap { $0 }
        print(String(format: "all         %7d  %6.1f  %7.1f", cases.count, percentile(all, 0.5), percentile(all, 0.99)))
    }
}
