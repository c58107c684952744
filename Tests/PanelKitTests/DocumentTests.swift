import Foundation
import Testing

@testable import PanelKit

struct DocumentTests {
    /// C formatting gives Foundation's text; the ISO 8601 writer gives the format style's; table cells
    /// fold and escape exactly as the plain definition does.
    /// Markdown's tidy: at most one blank line in a row (spaces and tabs count as blank), none at the start
    /// or end, one newline at the end — lines kept byte for byte otherwise.
    @Test func tidyKeepsOneBlankLineAtMost() {
        #expect(DocumentTemplates.tidy("") == "\n")
        #expect(DocumentTemplates.tidy("\n \t\n\n") == "\n")
        #expect(
            DocumentTemplates.tidy("\n\n# Title\n\n\n \n\tText é ·  \n  indented\n\t\n\nEnd")
                == "# Title\n\n\tText é ·  \n  indented\n\nEnd\n")
        #expect(DocumentTemplates.tidy("a\nb\n\n") == "a\nb\n")
        #expect(DocumentTemplates.tidy("a\r\n\r\nb") == "a\r\n\r\nb\n")  // a carriage return is not blank
    }

    /// The escaping scan's tables answer as the rule does for every byte.
    @Test func escapeTablesAreTheRule() {
        for byte in 0...255 {
            #expect(Template.htmlTable[byte] == Template.needsEscape(UInt8(byte), .html))
            #expect(Template.markdownTable[byte] == Template.needsEscape(UInt8(byte), .markdown))
            #expect(!Template.needsEscape(UInt8(byte), .none))
        }
        #expect(
            Template.escaped("a\n\tb <i> & 'q' [x] \u{1B} \u{85} · ok", .html)
                == "a\n\tb &lt;i&gt; &amp; &#39;q&#39; [x] \u{FFFD} \u{FFFD} · ok")
        #expect(Template.escaped("a <b & c> [x] ·", .markdown) == "a \\<b & c> \\[x\\] ·")
    }

    @Test func fastFormattingMatchesFoundation() throws {
        var state: UInt64 = 7
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state
        }
        let specials: [Double] = [0, -0.0, 0.00005, 0.000049999, 1.25, 2.5, 99.95, 1e-7, 123_456.789, -3.75, .infinity, .nan]
        let values = specials + (0..<2000).map { _ in Double(Int64(bitPattern: next()) % 10_000_000) / Double(1 << (next() % 24)) }
        for value in values {
            #expect(CFormat.double("%.4f", value) == String(format: "%.4f", value))
            #expect(CFormat.double("%.1f", value) == String(format: "%.1f", value))
            #expect(CFormat.double("%6.1f", value) == String(format: "%6.1f", value))
            #expect(CFormat.double("%3.0f", value) == String(format: "%3.0f", value))
            #expect(CFormat.double("%.5f", value) == String(format: "%.5f", value))
        }
        for _ in 0..<500 {
            let date = Date(timeIntervalSince1970: Double(next() % 4_102_444_800) + Double(next() % 1000) / 1000)
            #expect(CFormat.iso8601(date) == date.formatted(Date.ISO8601FormatStyle()))
            // HTTP dates as RFC 9110 writes them, and ISO 8601 read back to the second.
            let http = DateFormatter()
            http.locale = Locale(identifier: "en_US_POSIX")
            http.timeZone = TimeZone(identifier: "GMT")
            http.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            #expect(CFormat.httpDate(date) == http.string(from: date))
            #expect(CFormat.date(iso8601: CFormat.iso8601(date)) == Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)))
        }
        #expect(CFormat.date(iso8601: "2026-12-05T14:41:34+01:00") == nil && CFormat.date(iso8601: "2026-12-05T1a:41:34Z") == nil)
        #expect(CFormat.padded("ab", to: 4) == "ab  " && CFormat.padded("abcdef", to: 4) == "abcdef")
        let pieces = ["a", "|", "—", "\n", "\r\n", "\u{85}", "\u{2028}", "\u{2029}", "é", " ", "\u{0B}", "\u{0C}", "\u{2027}", "\u{A8}"]
        for _ in 0..<2000 {
            let text = (0..<Int(next() % 8)).map { _ in pieces[Int(next() % UInt64(pieces.count))] }.joined()
            let reference = text.split(whereSeparator: \.isNewline).joined(separator: " ").replacingOccurrences(of: "|", with: "\\|")
            #expect(DocumentViewModel.cell(text) == reference, "\(text.debugDescription)")
        }
    }

    /// The ASCII fast path gives the slug the general folding gives.
    @Test func asciiSlugsMatchTheFoldedForm() {
        let alphabet = Array("aZ09 -_./!?\t\nQz#|é")
        var state: UInt64 = 42
        for _ in 0..<3000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            var name = ""
            for _ in 0..<Int(state >> 58) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                name.append(alphabet[Int(state >> 33) % (alphabet.count - 1)])  // ASCII only
            }
            #expect(Slug.ascii(name) == Slug.folded(name), "\(name.debugDescription)")
        }
        #expect(Slug.make("Ünïcode Tool") == "unicode-tool")
        #expect(Slug.make("  Acme  Relay 2! ") == "acme-relay-2")
        #expect(Slug.make("???") == "listing")
        #expect(Slug.make(String(repeating: "ab ", count: 60)).count == 80)
    }

    /// The one-pass paragraph folding gives what the plain Character-based definition gives, on
    /// random text built from every kind of line break, blanks and multi-byte characters.
    @Test func paragraphFoldingMatchesItsDefinition() {
        func reference(_ text: String) -> [String] {
            let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { line -> String in
                var line = Substring(line.drop { $0 == " " || $0 == "\t" })
                while let last = line.last, last == " " || last == "\t" { line = line.dropLast() }
                return String(line)
            }
            return lines.split(separator: "", omittingEmptySubsequences: true).map { $0.joined(separator: " ") }
        }
        func folded(_ text: String) -> [String] {
            guard case .list(let items) = DocumentViewModel.paragraphs(text) else { return ["not a list"] }
            return items.map { item in
                guard case .object(let fields) = item, case .text(let text)? = fields["text"] else { return "not text" }
                return text
            }
        }
        let pieces = [
            "a", "bc", " ", "\t", "\n", "\r", "\r\n", "\u{85}", "\u{2028}", "\u{2029}", "\u{0B}", "\u{0C}", "é", "漢字", "🙂", "\n\n",
        ]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2000 {
            var text = ""
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            for _ in 0..<Int(state >> 59) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text += pieces[Int(state >> 33) % pieces.count]
            }
            #expect(folded(text) == reference(text), "\(text.debugDescription)")
        }
        #expect(folded("  One\r\ntwo  \n\n\tThree ") == ["One two", "Three"])
    }

    @Test func otherSchemaVersionsAreRejected() {
        let error = #expect(throws: DocumentError.self) {
            try JSONDocumentRenderer.decode(Data(#"{"schema": "panel.document/v2"}"#.utf8), source: "old.json")
        }
        #expect(error?.description.contains("panel.document/v2") == true)
    }
}
