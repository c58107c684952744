/// "Did you mean …?": the known word nearest an unknown one, for every message about an unknown key —
/// a listing's field, a batch row's, a configuration key.
public enum Suggestion {
    /// The known word within `maxDistance` edits of `word` (the nearest; the first of equals), or nil.
    public static func nearest(_ word: String, in known: [String], maxDistance: Int = 3) -> String? {
        known.map { ($0, distance($0.lowercased(), word.lowercased())) }.filter { $0.1 <= maxDistance }.min { $0.1 < $1.1 }?.0
    }

    /// "'descripton' (did you mean 'description'?)", or "'x'" when nothing is near.
    public static func describe(_ word: String, in known: [String]) -> String {
        "'\(word)'" + (nearest(word, in: known).map { " (did you mean '\($0)'?)" } ?? "")
    }

    /// Levenshtein distance.
    public static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
