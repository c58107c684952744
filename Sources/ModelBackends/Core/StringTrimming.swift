extension StringProtocol {
    /// The text without leading and trailing white space and line breaks (Unicode `White_Space`).
    ///
    /// Works on Unicode scalars: Foundation's `trimmingCharacters(in:)` bridges through `NSString` on
    /// Linux, which profiling showed at a tenth of a batch's CPU time when applied to every prompt.
    public func trimmedWhitespace() -> String {
        let scalars = unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end, scalars[start].properties.isWhitespace { start = scalars.index(after: start) }
        while end > start, scalars[scalars.index(before: end)].properties.isWhitespace { end = scalars.index(before: end) }
        return String(self[start..<end])
    }
}
