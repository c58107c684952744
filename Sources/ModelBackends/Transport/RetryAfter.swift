public import Foundation

/// Reads how long a server asks a client to wait: `retry-after-ms` (milliseconds, as OpenAI and
/// Azure send it) or `retry-after` (delta seconds or an HTTP date).
public enum RetryAfter {
    public static func parse(headers: [(name: String, value: String)], now: Date = Date()) -> Duration? {
        func value(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name }?.value.trimmingCharacters(in: .whitespaces)
        }
        if let ms = value("retry-after-ms"), let number = Double(ms), number.isFinite, number >= 0 {
            return .milliseconds(Int64(number.rounded(.up)))
        }
        guard let raw = value("retry-after") else { return nil }
        if let seconds = Double(raw), seconds.isFinite, seconds >= 0 {
            return .milliseconds(Int64((seconds * 1000).rounded(.up)))
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: raw) else { return nil }
        let wait = max(0, date.timeIntervalSince(now))
        return .milliseconds(Int64((wait * 1000).rounded(.up)))
    }
}
