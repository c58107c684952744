import Foundation
import Testing

@testable import PanelKit

/// The byte-level front matter split against the Foundation one it replaced (kept here as the
/// reference): the same YAML, body and failure for every shape of text.
struct FrontMatterTests {
    enum Outcome: Equatable {
        case split(String, String)
        case noOpening
        case noClosing
    }

    /// The split as it was written with Foundation's line functions.
    static func reference(_ text: String) -> Outcome {
        var lines = text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n")
        if lines.first?.hasPrefix("\u{FEFF}") == true { lines[0].removeFirst() }
        guard lines.first?.trimmingCharacters(in: .whitespaces) == "---" else { return .noOpening }
        guard let end = lines.dropFirst().firstIndex(where: { ["---", "..."].contains($0.trimmingCharacters(in: .whitespaces)) })
        else { return .noClosing }
        return .split(lines[1..<end].joined(separator: "\n"), lines[(end + 1)...].joined(separator: "\n"))
    }

    static func split(_ text: String) -> Outcome {
        do {
            let parts = try FrontMatter.split(text)
            return .split(parts.yaml, parts.body)
        } catch .noOpening {
            return .noOpening
        } catch {
            return .noClosing
        }
    }

    static let cases = [
        "---\nname: A\n---\nBody text.\n", "---\nname: A\n---", "---\n---\n", "---\n---", "---", "---\n", "", "\n---\n---\n",
        "---\r\nname: A\r\ntagline: B\r\n---\r\nBody\r\nmore\r\n", "\u{FEFF}---\nname: A\n---\nbody", "\u{FEFF}\u{FEFF}---\n---\n",
        "  ---  \nname: A\n\t...\t\nbody", "---\nname: A\n...\nbody", "...\nname: A\n---\n", "----\nname: A\n---\n",
        "---\nname: A\n----\nno closing", "---\u{00A0}\nname: A\n\u{2003}---\nbody", "---\nname: Ünïcödé — “quoted”\n---\nBödy ✓\n",
        "---\nname: A\n---\n---\nsecond fence stays in the body\n", "---\na\rb\n---\r\rbody\r", "---\n\n\n---\n\n\nbody\n\n",
        "--- \n x: 1\n --- \n", "---\nname: A\n -- -\n", "\r\n---\r\n---\r\n", "---\r\n---\r", "---\n..\n...",
    ]

    @Test(arguments: cases) func splitsAsTheFoundationVersionDid(_ text: String) {
        #expect(Self.split(text) == Self.reference(text))
    }

    @Test func splitsTheBuiltInPersonasAsTheFoundationVersionDid() {
        let personas = DefaultPrompts.files.filter { !$0.key.hasPrefix("_") }
        #expect(personas.count == 4)
        for text in personas.values {
            #expect(Self.split(text) == Self.reference(text))
            #expect(Self.split(text) != .noOpening)
        }
    }
}
