public import Foundation

/// printf-style number formatting through C's `vsnprintf`: the same text as `String(format:)` for
/// numeric conversions, without Foundation's CFString formatter (a measurable share of writing a
/// document per listing in a batch).
public enum CFormat {
    /// `value` with a C format for one double, e.g. `"%.4f"` or `"%6.1f"`.
    public static func double(_ format: StaticString, _ value: Double) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            let count = withVaList([value]) { arguments in
                format.withUTF8Buffer { format in
                    format.withMemoryRebound(to: CChar.self) { vsnprintf(buffer.baseAddress, 64, $0.baseAddress, arguments) }
                }
            }
            guard count >= 0, count < 64 else { return String(format: "\(format)", value) }
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: Int(count)), as: UTF8.self)
        }
    }

    /// `text` padded with spaces on the right to `width` characters (never cut).
    public static func padded(_ text: String, to width: Int) -> String {
        let count = text.count
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }

    /// ISO 8601 in UTC to the second (`2026-11-25T17:05:09Z`), as `Date.ISO8601FormatStyle()` writes it.
    public static func iso8601(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let year = Int(parts.tm_year) + 1900
        let yearText = year < 1000 ? String(repeating: "0", count: 4 - String(year).count) + String(year) : String(year)
        return "\(yearText)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
