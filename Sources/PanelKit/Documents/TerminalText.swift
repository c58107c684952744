/// The one sanitiser for untrusted text (listing fields, model answers, server-reported names and
/// errors) on its way to a terminal: escape sequences (ESC, so no OSC 52 clipboard writes or cursor
/// games), other C0 controls, DEL, C1 controls and bidirectional overrides become a visible `�`; with
/// `singleLine`, line breaks become spaces, so a name cannot break a table or a progress line.
public enum TerminalText {
    public static func safe(_ text: String, singleLine: Bool = true) -> String {
        func unsafe(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.value {
            case 0x0A, 0x0D: return singleLine
            case 0x09: return false
            case 0x00...0x1F, 0x7F, 0x80...0x9F: return true
            case 0x202A...0x202E, 0x2066...0x2069: return true
            default: return false
            }
        }
        guard text.unicodeScalars.contains(where: unsafe) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if !unsafe(scalar) {
                result.append(scalar)
            } else if scalar == "\n" || scalar == "\r" {
                result.append(" ")
            } else {
                result.append("\u{FFFD}")
            }
        }
        return String(result)
    }
}
