public import Foundation

/// Reads how long a server asks a client to wait: `retry-after-ms` (milliseconds, as OpenAI and
/// Azure send it) or `retry-after` (delta seconds or an HTTP date).
public enum RetryAfter {
    public static func parse(headers: [(name: String, value: String)], now: Date = Date()) -> Duration? {
        func value(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name }?.value.trimmingCharacters(in: .whitespaces)
        }
        // A wait beyond a year (or infinite) is taken as a year: longer than any retry policy waits, so the
        // call fails with the server's error instead of trapping or hanging.
        if let ms = value("retry-after-ms"), let number = Double(ms), number >= 0 {
            return CheckedNumber.clampedDuration(seconds: number / 1000)
        }
        guard let raw = value("retry-after") else { return nil }
        if let seconds = Double(raw), seconds >= 0 {
            return CheckedNumber.clampedDuration(seconds: seconds)
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: raw) else { return nil }
        let wait = max(0, date.timeIntervalSince(now))
        return CheckedNumber.clampedDuration(seconds: wait)
    }
}
