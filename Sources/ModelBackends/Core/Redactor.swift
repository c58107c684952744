import Foundation

/// Removes secrets from text before it leaves the process: recordings, logs, errors, documents.
public struct Redactor: Sendable, Hashable {
    public static let mask = "[redacted]"
    private var secrets: [String]

    public init(secrets: [String] = []) {
        // Very short values would mask ordinary words; real keys are long.
        self.secrets = secrets.filter { $0.count >= 8 }.sorted { $0.count > $1.count }
    }

    public func adding(_ secret: String?) -> Redactor {
        guard let secret else { return self }
        return Redactor(secrets: secrets + [secret])
    }

    public func redact(_ text: String) -> String {
        var text = text
        for secret in secrets where text.contains(secret) {
            text = text.replacingOccurrences(of: secret, with: Self.mask)
        }
        return text
    }
}
