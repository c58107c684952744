import Testing

@testable import PanelKit

/// Live views get the paragraph of a structured answer as it streams, never its JSON.
struct StreamedParagraphTests {
    /// Feeds `text` cut into pieces of `size` characters; returns what was shown.
    func shown(_ text: String, size: Int) -> String {
        var paragraph = StreamedParagraph()
        var shown = ""
        var piece = ""
        for character in text {
            piece.append(character)
            if piece.count == size {
                shown += paragraph.feed(piece)
                piece = ""
            }
        }
        return shown + paragraph.feed(piece)
    }

    @Test(arguments: [1, 2, 3, 5, 7, 64])
    func theParagraphOfAJSONAnswerIsShownWhereverThePiecesSplit(size: Int) {
        let answer =
            #"{"score": 72, "tags": ["a", {"b": "}"}], "rationale": "Clean \"primitive\",\nfast \u00e9 \ud83d\ude00 tail.", "verdict": "ship"}"#
        #expect(shown(answer, size: size) == "Clean \"primitive\",\nfast é 😀 tail.")
        let fenced = "```json\n{\"Rationale\": \"Fenced \\\\ text\", \"score\": 40}\n```"
        #expect(shown(fenced, size: size) == "Fenced \\ text")
    }

    @Test func anAnswerThatIsNotJSONPassesThroughAndAnObjectWithoutAParagraphShowsNothing() {
        #expect(shown("  Score: 70\nVerdict: ship\nA fine tool.", size: 4) == "  Score: 70\nVerdict: ship\nA fine tool.")
        #expect(shown(#"{"score": 70, "verdict": "ship"}"#, size: 3).isEmpty)
        // Only the first paragraph is shown; what follows it in the object is not.
        #expect(shown(#"{"review": "First.", "summary": "Second."}"#, size: 2) == "First.")
    }
}
