import Foundation

/// File names from listing names: ASCII letters and digits, words joined by `-`.
public enum Slug {
    public static func make(_ name: String) -> String {
        if name.utf8.allSatisfy({ $0 < 0x80 }) { return ascii(name) }
        return folded(name)
    }

    /// The general form: Foundation's diacritic and case folding, then ASCII words.
    static func folded(_ name: String) -> String {
        let folded = name.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: Locale(identifier: "en_US_POSIX"))
            .lowercased()
        let words = folded.split { !($0.isASCII && ($0.isLetter || $0.isNumber)) }
        let slug = words.joined(separator: "-")
        return slug.isEmpty ? "listing" : String(slug.prefix(80))
    }

    /// The same slug for an ASCII name, without Foundation's folding (which, for ASCII, only lowercases).
    static func ascii(_ name: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(name.utf8.count)
        var pendingDash = false
        for byte in name.utf8 {
            let lower = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
            if (lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z")) || (lower >= UInt8(ascii: "0") && lower <= UInt8(ascii: "9")) {
                if pendingDash && !bytes.isEmpty { bytes.append(UInt8(ascii: "-")) }
                pendingDash = false
                bytes.append(lower)
            } else {
                pendingDash = true
            }
        }
        return bytes.isEmpty ? "listing" : String(decoding: bytes.prefix(80), as: UTF8.self)
    }
}
