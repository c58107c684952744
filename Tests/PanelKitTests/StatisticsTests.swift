import Testing

@testable import PanelKit

/// Every statistic against known values: hand-computed small cases and published worked examples.
struct StatisticsTests {
    func close(_ a: Double?, _ b: Double, _ tolerance: Double = 0.0005) -> Bool {
        guard let a else { return false }
        return abs(a - b) <= tolerance
    }

    /// Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the worked example: four
    /// observers, twelve units, missing values; α nominal 0.743, interval 0.849.
    @Test func krippendorffsWorkedExample() {
        let observers: [[Double?]] = [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, nil, nil, nil],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nil, 3],
            [nil, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nil],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nil],
        ]
        let units = (0..<12).map { unit in observers.map { $0[unit] } }
        #expect(close(Statistics.krippendorffAlpha(units, metric: .nominal), 0.743))
        #expect(close(Statistics.krippendorffAlpha(units, metric: .interval), 0.849))
    }

    @Test func krippendorffsEdgeCases() {
        // Perfect agreement with variation: 1. No variation at all: undefined.
        #expect(Statistics.krippendorffAlpha([[1, 1], [2, 2], [3, 3]], metric: .interval) == 1)
        #expect(Statistics.krippendorffAlpha([[1, 1], [1, 1]], metric: .nominal) == nil)
        // Units with one value are not pairable.
        #expect(Statistics.krippendorffAlpha([[1, nil], [nil, 2]], metric: .nominal) == nil)
        // Hand computed: two coders, units (0,1),(1,0): observed 1 per value, expected 2·2/(4·3)·... → α = −0.5.
        #expect(close(Statistics.krippendorffAlpha([[0, 1], [1, 0]], metric: .nominal), -0.5))
    }

    /// Wikipedia's "Cohen's kappa" examples: 20/5/10/15 → 0.4; 45/15/25/15 → 0.1304.
    @Test func cohensKappaExamples() {
        #expect(close(Statistics.cohensKappa(.init(yesYes: 20, yesNo: 5, noYes: 10, noNo: 15)), 0.4))
        #expect(close(Statistics.cohensKappa(.init(yesYes: 45, yesNo: 15, noYes: 25, noNo: 15)), 0.1304))
        #expect(Statistics.cohensKappa(.init(yesYes: 10)) == nil)
        #expect(Statistics.cohensKappa(.init()) == nil)
        #expect(Statistics.cohensKappa(.init(yesYes: 5, noNo: 5)) == 1)
        let pairs = [(true, true), (true, false), (false, false), (false, false)]
        #expect(Statistics.Confusion(pairs) == .init(yesYes: 1, yesNo: 1, noYes: 0, noNo: 2))
        #expect(Statistics.Confusion(pairs).agreement == 0.75)
    }

    /// Wikipedia's "Spearman's rank correlation" example (IQ and hours of TV): ρ = −29/165.
    @Test func spearmansExample() {
        let iq: [Double] = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110]
        let tv: [Double] = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17]
        #expect(close(Statistics.spearman(iq, tv), -29.0 / 165.0, 1e-9))
        #expect(Statistics.ranks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4])
        #expect(Statistics.spearman([1, 2, 3], [1, 1, 1]) == nil)
        #expect(close(Statistics.spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1, 1e-12))
    }

    @Test func descriptiveFigures() {
        #expect(Statistics.median([4, 1, 3, 2]) == 2.5)
        #expect(Statistics.quantile([1, 2, 3, 4, 5], 0.25) == 2)
        #expect(Statistics.quantile([1, 2, 3, 4], 0.75) == 3.25)
        #expect(close(Statistics.standardDeviation([2, 4, 4, 4, 5, 5, 7, 9]), 2.138, 0.001))
        #expect(Statistics.standardDeviation([3]) == nil)
        #expect(Statistics.mean([]) == nil)
    }

    @Test func effectiveOpinions() {
        #expect(Statistics.effectiveOpinions(4, meanCorrelation: 0.5) == 1.6)
        #expect(Statistics.effectiveOpinions(4, meanCorrelation: 1) == 1)
        #expect(Statistics.effectiveOpinions(4, meanCorrelation: 0) == 4)
        #expect(Statistics.effectiveOpinions(4, meanCorrelation: -0.3) == 4)
    }

    @Test func isotonicRegressionPoolsViolators() {
        let fit = Statistics.isotonic(x: [1, 2, 3, 4], y: [1, 3, 2, 4])
        #expect(fit.map(\.y) == [1, 2.5, 2.5, 4])
        let tied = Statistics.isotonic(x: [1, 1, 2], y: [4, 2, 1])
        #expect(tied.map(\.x) == [1, 2] && tied.allSatisfy { abs($0.y - 7.0 / 3.0) < 1e-12 })
        #expect(Statistics.isotonic(x: [], y: []).isEmpty)
    }

    @Test func bootstrapIsSeededAndCoversTheEstimate() {
        let values: [Double] = [50, 55, 60, 62, 70, 71, 75, 80, 85, 90]
        func median(_ sample: [Int]) -> Double? { Statistics.median(sample.map { values[$0] }) }
        let a = Statistics.bootstrapInterval(count: values.count, seed: 7, median)
        let b = Statistics.bootstrapInterval(count: values.count, seed: 7, median)
        #expect(a?.0 == b?.0 && a?.1 == b?.1)
        let (low, high) = try! #require(a)
        #expect(low <= 70.5 && 70.5 <= high && low >= 50 && high <= 90)
        #expect(SeededRandom.seed("abc") == SeededRandom.seed("abc") && SeededRandom.seed("abc") != SeededRandom.seed("abd"))
    }

    /// The share's interval is its exact bootstrap distribution: Binomial(n, p)/n's 2.5% and 97.5% points.
    @Test func shareIntervalsAreTheExactBootstrapDistribution() {
        // Bin(4, 0.75): CDF 0.004, 0.051, 0.262, 0.684, 1 → the 2.5% point is 1/4, the 97.5% point 4/4.
        #expect(Statistics.bootstrapShareInterval(successes: 3, count: 4)! == (0.25, 1.0))
        #expect(Statistics.bootstrapShareInterval(successes: 4, count: 4)! == (1.0, 1.0))
        #expect(Statistics.bootstrapShareInterval(successes: 0, count: 4)! == (0.0, 0.0))
        #expect(Statistics.bootstrapShareInterval(successes: 0, count: 0) == nil)
        let half = Statistics.bootstrapShareInterval(successes: 10, count: 20)!
        #expect(abs(half.0 - (1 - half.1)) < 1e-12 && half.0 < 0.5 && half.1 > 0.5)
        // And it agrees with resampling.
        let votes = (0..<20).map { $0 < 12 }
        let resampled = Statistics.bootstrapInterval(count: 20, resamples: 20_000, seed: 3) { sample in
            Double(sample.filter { votes[$0] }.count) / 20
        }!
        let exact = Statistics.bootstrapShareInterval(successes: 12, count: 20)!
        #expect(abs(resampled.0 - exact.0) <= 0.05 && abs(resampled.1 - exact.1) <= 0.05)
    }

    @Test func medianIntervalsMatchTheGenericBootstrap() {
        let values: [Double] = [41, 55, 58, 62, 64, 70, 71, 75, 80, 88, 90]
        let exact = Statistics.bootstrapMedianInterval(values)!
        let generic = Statistics.bootstrapInterval(count: values.count, resamples: 20_000, seed: 9) { sample in
            Statistics.median(sample.map { values[$0] })
        }!
        #expect(abs(exact.0 - generic.0) <= 3 && abs(exact.1 - generic.1) <= 3, "\(exact) vs \(generic)")
        // A large panel (25 samples of 12 personas): its distribution still sums to one, and agrees.
        var random = SeededRandom(seed: 7)
        let many = (0..<300).map { _ in 30 + Double(random.next(upperBound: UInt64(60))) }
        #expect(abs(Statistics.bootstrapMedianDistribution(many).reduce(0) { $0 + $1.probability } - 1) < 1e-9)
        let manyExact = Statistics.bootstrapMedianInterval(many)!
        let manyGeneric = Statistics.bootstrapInterval(count: many.count, resamples: 4_000, seed: 9) { sample in
            Statistics.median(sample.map { many[$0] })
        }!
        #expect(abs(manyExact.0 - manyGeneric.0) <= 2 && abs(manyExact.1 - manyGeneric.1) <= 2, "\(manyExact) vs \(manyGeneric)")
        #expect(Statistics.bootstrapMedianInterval([70])! == (70, 70))
        #expect(Statistics.bootstrapMedianInterval([]) == nil)
        // Two votes: 60 (¼), 65 (½), 70 (¼).
        #expect(Statistics.bootstrapMedianInterval([70, 60])! == (60, 70))
        // Four votes 50, 60, 70, 80: a median of 50 needs three or four draws of 50, P = 13/256 ≥ 2.5% (80 alike).
        #expect(Statistics.bootstrapMedianInterval([80, 50, 70, 60])! == (50, 80))
    }

    /// The closed form is the bootstrap distribution itself: for every panel size up to six, with ties,
    /// each median's probability is its share of all nⁿ equally likely resamples, enumerated.
    @Test func medianDistributionIsEveryResampleCounted() {
        var random = SeededRandom(seed: 42)
        for n in 1...6 {
            for round in 0..<3 {
                // Round 0 draws from few values (ties), the others from 0–100.
                let values = (0..<n).map { _ in Double(random.next(upperBound: UInt64(round == 0 ? 3 : 101))) * 5 }
                var counts: [Double: Int] = [:]
                var draws = [Int](repeating: 0, count: n)
                let total = (0..<n).reduce(1) { product, _ in product * n }
                for resample in 0..<total {
                    var rest = resample
                    for index in 0..<n {
                        draws[index] = rest % n
                        rest /= n
                    }
                    counts[Statistics.median(draws.map { values[$0] })!, default: 0] += 1
                }
                let enumerated = counts.sorted { $0.key < $1.key }.map { ($0.key, Double($0.value) / Double(total)) }
                let closed = Statistics.bootstrapMedianDistribution(values)
                #expect(closed.map { $0.value } == enumerated.map { $0.0 }, "n \(n): \(values)")
                for (mass, expected) in zip(closed, enumerated) {
                    #expect(abs(mass.probability - expected.1) < 1e-12, "n \(n): \(values) at \(mass.value)")
                }
            }
        }
    }
}
