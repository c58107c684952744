import Foundation

/// The statistics behind the trust figures, as plain functions of numbers: no I/O, no randomness but a
/// seeded generator passed in, each checked against hand-computed cases and published worked examples.
public enum Statistics {
    public static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// The sample standard deviation (n − 1); nil below two values.
    public static func standardDeviation(_ values: [Double]) -> Double? {
        guard values.count >= 2, let mean = mean(values) else { return nil }
        return (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)).squareRoot()
    }

    public static func median(_ values: [Double]) -> Double? { quantile(values, 0.5) }

    /// The `p` quantile by linear interpolation between order statistics (R's type 7, NumPy's default).
    public static func quantile(_ values: [Double], _ p: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let position = p * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (position - Double(lower)) * (sorted[upper] - sorted[lower])
    }

    /// Ranks from 1, ties given the mean of the ranks they span.
    public static func ranks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count, values[order[end + 1]] == values[order[start]] { end += 1 }
            let rank = Double(start + end) / 2 + 1
            for index in start...end { ranks[order[index]] = rank }
            start = end + 1
        }
        return ranks
    }

    /// Pearson's r; nil with fewer than two pairs or when either side does not vary.
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
        guard x.count == y.count, x.count >= 2, let mx = mean(x), let my = mean(y) else { return nil }
        var sxy = 0.0
        var sxx = 0.0
        var syy = 0.0
        for (a, b) in zip(x, y) {
            sxy += (a - mx) * (b - my)
            sxx += (a - mx) * (a - mx)
            syy += (b - my) * (b - my)
        }
        guard sxx > 0, syy > 0 else { return nil }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Spearman's ρ: Pearson's r of the ranks (ties averaged).
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double? {
        pearson(ranks(x), ranks(y))
    }

    /// Cohen's κ of two raters' yes/no decisions, from the four counts. Nil when chance agreement is
    /// total (both raters used one class only): κ is undefined there.
    public static func cohensKappa(_ table: Confusion) -> Double? {
        let n = Double(table.total)
        guard n > 0 else { return nil }
        let observed = Double(table.yesYes + table.noNo) / n
        let firstYes = Double(table.yesYes + table.yesNo) / n
        let secondYes = Double(table.yesYes + table.noYes) / n
        let chance = firstYes * secondYes + (1 - firstYes) * (1 - secondYes)
        guard chance < 1 else { return nil }
        return (observed - chance) / (1 - chance)
    }

    /// Two raters' yes/no decisions counted: `yesNo` is "the first said yes, the second no".
    public struct Confusion: Sendable, Hashable {
        public var yesYes = 0
        public var yesNo = 0
        public var noYes = 0
        public var noNo = 0

        public init(yesYes: Int = 0, yesNo: Int = 0, noYes: Int = 0, noNo: Int = 0) {
            self.yesYes = yesYes
            self.yesNo = yesNo
            self.noYes = noYes
            self.noNo = noNo
        }

        public init(_ pairs: [(Bool, Bool)]) {
            for (first, second) in pairs {
                switch (first, second) {
                case (true, true): yesYes += 1
                case (true, false): yesNo += 1
                case (false, true): noYes += 1
                case (false, false): noNo += 1
                }
            }
        }

        public var total: Int { yesYes + yesNo + noYes + noNo }
        public var agreement: Double? { total == 0 ? nil : Double(yesYes + noNo) / Double(total) }
    }

    public enum Metric: String, Sendable {
        /// Values are categories: any two different ones disagree equally.
        case nominal
        /// Values are numbers: a disagreement weighs its squared difference.
        case interval
    }

    /// Krippendorff's α over units (each a list of the values the coders gave it; nil where a coder gave
    /// none). Units with fewer than two values are not pairable and leave no trace. Nil when there is no
    /// pairable unit or no expected disagreement (every value the same).
    public static func krippendorffAlpha(_ units: [[Double?]], metric: Metric) -> Double? {
        let pairable = units.map { $0.compactMap { $0 } }.filter { $0.count >= 2 }
        let all = pairable.flatMap { $0 }
        let n = Double(all.count)
        guard n > 1 else { return nil }
        func distance(_ a: Double, _ b: Double) -> Double {
            switch metric {
            case .nominal: return a == b ? 0 : 1
            case .interval: return (a - b) * (a - b)
            }
        }
        var observed = 0.0
        for values in pairable {
            var sum = 0.0
            for i in values.indices {
                for j in values.indices where i != j { sum += distance(values[i], values[j]) }
            }
            observed += sum / Double(values.count - 1)
        }
        observed /= n
        var expected = 0.0
        switch metric {
        case .interval:
            // Σ_{i≠j} (x_i − x_j)² = 2n Σx² − 2 (Σx)².
            let sum = all.reduce(0, +)
            let squares = all.reduce(0) { $0 + $1 * $1 }
            expected = (2 * n * squares - 2 * sum * sum) / (n * (n - 1))
        case .nominal:
            var counts: [Double: Double] = [:]
            for value in all { counts[value, default: 0] += 1 }
            let same = counts.values.reduce(0) { $0 + $1 * ($1 - 1) }
            expected = (n * (n - 1) - same) / (n * (n - 1))
        }
        guard expected > 0 else { return nil }
        return 1 - observed / expected
    }

    /// The number of independent opinions `n` correlated opinions are worth: `n / (1 + (n − 1) ρ̄)`,
    /// capped at `n` when the mean correlation is zero or below (opinions that disagree are not worth more
    /// than independent ones).
    public static func effectiveOpinions(_ n: Int, meanCorrelation: Double) -> Double {
        guard n > 0 else { return 0 }
        guard meanCorrelation > 0 else { return Double(n) }
        return Double(n) / (1 + Double(n - 1) * meanCorrelation)
    }

    /// The 95% percentile bootstrap interval of `statistic` over `count` items resampled with
    /// replacement `resamples` times (statistics that come out nil are left out). Nil when none is defined.
    public static func bootstrapInterval(
        count: Int, resamples: Int = 2000, seed: UInt64, level: Double = 0.95, _ statistic: ([Int]) -> Double?
    ) -> (Double, Double)? {
        guard count > 0 else { return nil }
        var generator = SeededRandom(seed: seed)
        var values: [Double] = []
        values.reserveCapacity(resamples)
        var sample = [Int](repeating: 0, count: count)
        for _ in 0..<resamples {
            for index in 0..<count { sample[index] = Int(generator.next(upperBound: UInt64(count))) }
            if let value = statistic(sample), value.isFinite { values.append(value) }
        }
        guard !values.isEmpty, let low = quantile(values, (1 - level) / 2), let high = quantile(values, 1 - (1 - level) / 2) else {
            return nil
        }
        return (low, high)
    }

    /// The 95% percentile bootstrap interval of a share of `successes` in `count`, computed exactly: the
    /// bootstrap distribution of a resampled share is Binomial(count, successes/count)/count, so its
    /// quantiles need no resampling (and no seed).
    public static func bootstrapShareInterval(successes: Int, count: Int, level: Double = 0.95) -> (Double, Double)? {
        guard count > 0, (0...count).contains(successes) else { return nil }
        let p = Double(successes) / Double(count)
        let lowTail = (1 - level) / 2
        let highTail = 1 - lowTail
        var cumulative = 0.0
        var low: Int?
        var high = count
        // P(k) by the recurrence P(k+1) = P(k) · (n−k)/(k+1) · p/(1−p), from P(0) = (1−p)^n; the
        // degenerate shares 0 and 1 put all the mass on one value.
        if p == 0 || p == 1 { return (p, p) }
        var probability = pow(1 - p, Double(count))
        for k in 0...count {
            cumulative += probability
            if low == nil, cumulative >= lowTail - 1e-12 { low = k }
            if cumulative >= highTail - 1e-12 {
                high = k
                break
            }
            probability *= Double(count - k) / Double(k + 1) * p / (1 - p)
        }
        return (Double(low ?? 0) / Double(count), Double(high) / Double(count))
    }

    /// The 95% percentile bootstrap interval of the median of `values`, computed exactly from the
    /// bootstrap distribution (``bootstrapMedianDistribution(_:)``): the limit of resampling ever more
    /// times, with no resampling, no seed and no Monte Carlo error — the first median whose cumulative
    /// probability reaches 2.5%, and the first to reach 97.5%, as ``bootstrapShareInterval(successes:count:level:)``
    /// reads the share's. Nil when there are no values.
    public static func bootstrapMedianInterval(_ values: [Double], level: Double = 0.95) -> (Double, Double)? {
        let distribution = bootstrapMedianDistribution(values)
        guard let last = distribution.last?.value else { return nil }
        let lowTail = (1 - level) / 2
        let highTail = 1 - lowTail
        var cumulative = 0.0
        var low: Double?
        for (value, probability) in distribution {
            cumulative += probability
            if low == nil, cumulative >= lowTail - 1e-12 { low = value }
            if cumulative >= highTail - 1e-12 { return (low ?? value, value) }
        }
        return (low ?? last, last)
    }

    /// The bootstrap distribution of the median of `values` — every median a resample of n draws with
    /// replacement can have, ascending, with its probability — in closed form, O(n²). With the values
    /// sorted and a draw landing at or below rank a (0-based) with probability F(a) = (a+1)/n:
    /// - n odd: the median is the ((n+1)/2)-th smallest draw, at or below rank a when at least (n+1)/2
    ///   draws are: P = P(Binomial(n, F(a)) ≥ (n+1)/2), differenced over a.
    /// - n even (h = n/2): the median is the mean of the h-th and (h+1)-th smallest draws, at ranks L ≤ U.
    ///   P(L = a) comes the same way from P(Binomial(n, F(a)) ≥ h); for b > a, L = a and U = b exactly
    ///   when h draws land at or below a (at least one at a), none strictly between, and of the other
    ///   n − h, all at or above b (at least one at b): P = C(n, h) · (F(a)ʰ − F(a−1)ʰ) · (G(b)ⁿ⁻ʰ − G(b+1)ⁿ⁻ʰ)
    ///   with G(b) = (n−b)/n; and P(L = U = a) = P(L = a) − Σ_b P(L = a, U = b).
    /// Tied values merge into one median. A test holds it to every one of the nⁿ resamples for small n.
    static func bootstrapMedianDistribution(_ values: [Double]) -> [(value: Double, probability: Double)] {
        let sorted = values.sorted()
        let n = sorted.count
        guard n > 0 else { return [] }
        let size = Double(n)
        func atOrBelow(_ rank: Int) -> Double { Double(rank + 1) / size }
        /// log C(n, j) for j in 0...n.
        let logChoose = (0...n).map { j in lgamma(size + 1) - lgamma(Double(j) + 1) - lgamma(Double(n - j) + 1) }
        /// P(Binomial(n, p) ≥ k), its terms below k summed in logarithms ((1−p)ⁿ alone underflows for a
        /// panel of hundreds of votes).
        func tail(_ k: Int, _ p: Double) -> Double {
            guard p < 1 else { return 1 }
            let (logP, logQ) = (log(p), log1p(-p))
            var below = 0.0
            for j in 0..<k { below += exp(logChoose[j] + Double(j) * logP + Double(n - j) * logQ) }
            return min(max(1 - below, 0), 1)
        }
        var masses: [(value: Double, probability: Double)] = []
        masses.reserveCapacity(n % 2 == 1 ? n : n * (n + 1) / 2)
        let middle = n % 2 == 1 ? (n + 1) / 2 : n / 2
        let ways = exp(logChoose[middle])  // C(n, h)
        // G(b)ⁿ⁻ʰ − G(b+1)ⁿ⁻ʰ for each b (read only when n is even).
        let landsAtB = (0..<n).map { b in pow(Double(n - b) / size, Double(n - middle)) - pow(Double(n - b - 1) / size, Double(n - middle))
        }
        var below = 0.0  // P(the lower middle draw lands below rank a)
        for a in 0..<n {
            let atOrBelowA = tail(middle, atOrBelow(a))
            let lower = atOrBelowA - below  // P(L = a)
            below = atOrBelowA
            guard lower > 0 else { continue }
            guard n % 2 == 0 else {
                masses.append((sorted[a], lower))
                continue
            }
            let landsAtA = pow(atOrBelow(a), Double(middle)) - pow(atOrBelow(a - 1), Double(middle))
            var paired = 0.0
            for b in (a + 1)..<n {
                let probability = ways * landsAtA * landsAtB[b]
                paired += probability
                masses.append(((sorted[a] + sorted[b]) / 2, probability))
            }
            masses.append((sorted[a], max(lower - paired, 0)))
        }
        masses.sort { $0.value < $1.value }
        var merged: [(value: Double, probability: Double)] = []
        merged.reserveCapacity(masses.count)
        for mass in masses where mass.probability > 0 {
            if let last = merged.last, last.value == mass.value {
                merged[merged.count - 1].probability += mass.probability
            } else {
                merged.append(mass)
            }
        }
        return merged
    }

    /// The non-decreasing step function closest to `y` in (weighted) least squares, by the pool-adjacent-
    /// violators algorithm: for `x` sorted ascending, the fitted value at each x (ties in x pooled).
    public static func isotonic(x: [Double], y: [Double]) -> [(x: Double, y: Double)] {
        precondition(x.count == y.count)
        var points = zip(x, y).sorted { $0.0 < $1.0 }.map { (x: $0.0, y: $0.1) }
        guard !points.isEmpty else { return [] }
        // Pool equal x first: one block per distinct x.
        var blocks: [(x: Double, sum: Double, weight: Double)] = []
        for point in points {
            if let last = blocks.last, last.x == point.x {
                blocks[blocks.count - 1].sum += point.y
                blocks[blocks.count - 1].weight += 1
            } else {
                blocks.append((point.x, point.y, 1))
            }
        }
        // PAVA over blocks, keeping the x each pooled block started and ended at.
        var pooled: [(first: Int, last: Int, sum: Double, weight: Double)] = []
        for (index, block) in blocks.enumerated() {
            pooled.append((index, index, block.sum, block.weight))
            while pooled.count >= 2 {
                let b = pooled[pooled.count - 1]
                let a = pooled[pooled.count - 2]
                guard a.sum / a.weight > b.sum / b.weight else { break }
                pooled.removeLast(2)
                pooled.append((a.first, b.last, a.sum + b.sum, a.weight + b.weight))
            }
        }
        points = []
        for block in pooled {
            for index in block.first...block.last { points.append((blocks[index].x, block.sum / block.weight)) }
        }
        return points
    }
}

/// SplitMix64: a small, fast generator whose stream is fixed by its seed, so a figure computed from the
/// same input is the same on every run and machine.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A seed from text (FNV-1a over its UTF-8): the same document gives the same seed.
    public static func seed(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
