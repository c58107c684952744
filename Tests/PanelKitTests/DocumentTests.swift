import Foundation
import Testing

@testable import PanelKit

struct DocumentTests {
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
