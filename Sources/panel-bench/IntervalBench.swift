import ArgumentParser
import Foundation
import ModelBackends
import PanelKit

/// The time a document spends on its panel's intervals: one tool's votes, four personas × K samples.
struct Intervals: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Time to compute a panel's bootstrap intervals, per tool.")

    @Option(help: "Tools per sample count.") var tools = 400

    func run() throws {
        let clock = ContinuousClock()
        print("panel intervals (median score and ship share, 95%), per tool:")
        print("votes   p50 µs   p99 µs")
        for samples in [1, 5, 10] {
            var times: [Double] = []
            for tool in 0..<tools {
                let results = (0..<4).map { persona -> PersonaResult in
                    let votes = (0..<samples).map { sample in
                        let score = 35 + (tool * 7 + persona * 13 + sample * 29) % 60
                        return PersonaResult(
                            persona: Persona(id: "p\(persona)", name: "P", weighs: "", order: persona),
                            outcome: .answered(ParsedReview(score: score, verdict: score >= 60 ? .ship : .skip, text: "")))
                    }
                    return PersonaResult.combining(votes)
                }
                let start = clock.now
                _ = ReviewDocument.interval(results)
                times.append((clock.now - start).seconds * 1e6)
            }
            times.sort()
            print(String(format: "%5d  %7.1f  %7.1f", 4 * samples, times[times.count / 2], times[times.count * 99 / 100]))
        }
    }
}
