import Crypto
public import Foundation
public import PanelEngine

/// Making, hashing and reading API tokens. A token is `panel_<id>_<secret>`: the id (`tok_…`) names it
/// in lists and logs, the whole string is the credential, and the store keeps only its SHA-256.
public enum TeamTokens {
    /// Makes a token, keeps its hash, and returns the record with the secret — shown once, never again.
    public static func create(
        in store: any TeamStore, name: String, role: TeamRole, budgetUSD: Double?, displayName: String? = nil, now: Date = Date()
    ) async throws -> (token: TeamToken, secret: String) {
        let id = "tok_" + randomText(10)
        let secret = "panel_\(id.dropFirst(4))_\(randomText(32))"
        let token = TeamToken(id: id, name: name, role: role, budgetUSD: budgetUSD, createdAt: now, displayName: displayName)
        try await store.createToken(token, secretHash: hash(secret))
        return (token, secret)
    }

    /// SHA-256 of a secret, in hex: what the store looks tokens and sessions up by.
    public static func hash(_ secret: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8]()
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(secret.utf8)) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// Letters and digits from the system's secure random source.
    public static func randomText(_ count: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
    }

    /// A display name (shown on published pages): 1-100 characters, no control characters.
    public static func isValidDisplayName(_ name: String) -> Bool {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        return !trimmed.isEmpty && name.count <= 100 && !name.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    /// A token name: 1-64 letters, digits, `.`, `_`, `-`, `@` or spaces.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "._-@ ".unicodeScalars.contains($0) }
    }
}
