/// The one way a number from outside — a flag, the configuration, a header, an answer body, a file, a
/// document — becomes an integer or a duration: a value out of range is refused (nil) or clamped where
/// the caller says so, never a trap.
public enum CheckedNumber {
    /// A year, in seconds: the longest wait or duration panel takes from outside.
    public static let maxSeconds: Double = 31_536_000

    /// `seconds` as a duration when it is finite, not negative and at most `limit`.
    public static func duration(seconds: Double, max limit: Double = maxSeconds) -> Duration? {
        guard seconds.isFinite, seconds >= 0, seconds <= limit else { return nil }
        return .nanoseconds(Int64((seconds * 1e9).rounded(.up)))
    }

    /// `seconds` as a duration, any larger finite or infinite value taken as `limit` (a server asking to
    /// wait for ever is a server asking to wait longer than panel will). Nil for NaN and negatives.
    public static func clampedDuration(seconds: Double, max limit: Double = maxSeconds) -> Duration? {
        guard !seconds.isNaN, seconds >= 0 else { return nil }
        return .nanoseconds(Int64((min(seconds, limit) * 1e9).rounded(.up)))
    }

    /// A whole number when `value` is finite, whole and in `range`.
    public static func integer(_ value: Double, in range: ClosedRange<Int> = Int.min...Int.max) -> Int? {
        guard value.isFinite, value.rounded() == value, value >= -9.0e18, value <= 9.0e18 else { return nil }
        let integer = Int(value)
        return range.contains(integer) ? integer : nil
    }

    /// `value` rounded to a whole number, clamped into `range` (NaN is nil).
    public static func clamped(_ value: Double, to range: ClosedRange<Int>) -> Int? {
        guard !value.isNaN else { return nil }
        if value <= Double(range.lowerBound) { return range.lowerBound }
        if value >= Double(range.upperBound) { return range.upperBound }
        return Int(value.rounded())
    }

    /// The sum, or nil when it would overflow.
    public static func sum(_ a: Int, _ b: Int) -> Int? {
        let (result, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : result
    }

    /// A token count a server reported: a count is never negative, so a negative one is unknown.
    public static func tokenCount(_ value: Int?) -> Int? {
        guard let value, value >= 0 else { return nil }
        return value
    }
}
