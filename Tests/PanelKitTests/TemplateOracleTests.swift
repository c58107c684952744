import Foundation
import Mustache
import Testing

@testable import PanelKit

/// panel's template engine against swift-mustache 2.1.1 as an oracle: random contexts and random
/// templates over the supported subset — variables (escaped and not, dotted, `{{.}}`), sections over
/// lists, objects, flags and text, inverted sections, comments and standalone lines — render to the
/// same text in both.
struct TemplateOracleTests {
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
        mutating func chance(_ p: Double) -> Bool { Double(next() % 10_000) / 10_000 < p }
    }

    /// Text with every character the escaping rules care about; never empty (an empty string's
    /// truthiness is not specified by Mustache, and panel never sends one).
    static func text(_ random: inout Random) -> String {
        let pieces = ["a", "Acme", " ", "&", "<b>", "\"q\"", "'s'", ">", "é", "💡", "x y", "|", "*", "\\"]
        return (0..<(1 + random.below(4))).map { _ in random.pick(pieces) }.joined()
    }

    static func item(_ random: inout Random) -> TemplateValue {
        var fields: TemplateFields = ["a": .text(text(&random)), "b": .number(random.below(200) - 50)]
        if random.chance(0.5) { fields["f"] = .flag(random.chance(0.5)) }
        return .object(fields)
    }

    static func context(_ random: inout Random) -> TemplateValue {
        var fields: TemplateFields = [
            "s": .text(text(&random)), "t": .text(text(&random)), "n": .number(random.below(1000)), "f": .flag(random.chance(0.5)),
            "obj": item(&random), "items": .list((0..<random.below(4)).map { _ in item(&random) }), "empty": .list([]),
            "words": .list((0..<random.below(3)).map { _ in .text(text(&random)) }),
        ]
        if random.chance(0.3) { fields["f"] = nil }
        return .object(fields)
    }

    /// A fragment of template; `depth` bounds nesting.
    static func fragment(_ random: inout Random, depth: Int, inList: Bool, standalone: Bool = true) -> String {
        var choices: [() -> String] = []
        var r = random
        defer { random = r }
        let scalars = ["s", "t", "n", "f", "obj.a", "obj.b", "missing"]
        choices.append { "{{\(r.pick(scalars))}}" }
        choices.append { "{{{\(r.pick(scalars))}}}" }
        choices.append { "{{& \(r.pick(scalars))}}" }
        choices.append { " plain <text> & more " }
        choices.append { "\n" }
        choices.append { "{{! a comment }}" }
        if inList {
            choices.append { "{{a}}={{b}}" }
            choices.append { "{{#f}}[on]{{/f}}{{^f}}[off]{{/f}}" }
        }
        if depth > 0 {
            choices.append {
                let name = r.pick(["items", "empty", "obj", "f", "s", "missing"])
                let body = fragment(&r, depth: depth - 1, inList: name == "items" || name == "obj", standalone: standalone)
                return "{{#\(name)}}\(body){{/\(name)}}"
            }
            choices.append {
                let name = r.pick(["items", "empty", "f", "missing"])
                return "{{^\(name)}}\(fragment(&r, depth: depth - 1, inList: false, standalone: standalone)){{/\(name)}}"
            }
            choices.append { "{{#words}}<{{.}}>{{/words}}" }
            // Standalone lines: a section tag or a comment alone on its line leaves no line behind.
            if standalone {
                choices.append {
                    let name = r.pick(["items", "f", "empty"])
                    return "\n{{#\(name)}}\n\(fragment(&r, depth: depth - 1, inList: name == "items", standalone: false))\n{{/\(name)}}\n"
                }
            }
            if standalone { choices.append { "\n  {{! standalone comment }}\n" } }
        }
        return (0..<(1 + r.below(3))).map { _ in r.pick(choices)() }.joined()
    }

    static func oracleValue(_ value: TemplateValue) -> Any {
        switch value {
        case .text(let text): return text
        case .number(let number): return number
        case .flag(let flag): return flag
        case .list(let items): return items.map(oracleValue)
        case .object(let fields): return fields.dictionary.mapValues(oracleValue)
        }
    }

    @Test func rendersAsSwiftMustacheDoes() throws {
        var random = Random(state: 2026)
        var mismatches: [String] = []
        var compared = 0
        var skipped = 0
        let cases = 2_000
        for _ in 0..<cases {
            let source = Self.fragment(&random, depth: 3, inList: false)
            // swift-mustache departs from the spec's standalone rule in two shapes, left out of the comparison
            // (TemplateTests checks panel's engine on them against the spec): a line of two or more tags and
            // nothing else (not standalone: it keeps its newline), and a standalone line right after another
            // (both go; swift-mustache keeps the second's indentation or newline).
            if Self.hasLineOfTagsOnly(source) {
                skipped += 1
                continue
            }
            compared += 1
            let context = Self.context(&random)
            let ours = try Template(source, escaping: .html).render(context)
            let theirs = try MustacheTemplate(string: source).render(Self.oracleValue(context))
            if ours != theirs && mismatches.count < 5 {
                mismatches.append(
                    "template \(source.debugDescription)\n  ours   \(ours.debugDescription)\n  theirs \(theirs.debugDescription)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
        #expect(compared >= cases / 2, "compared \(compared), skipped \(skipped)")
        print("template oracle: \(compared) random templates compared with swift-mustache, \(skipped) left out")
    }

    /// A line holding two or more tags and only white space besides, or two adjacent lines of tags only.
    static func hasLineOfTagsOnly(_ source: String) -> Bool {
        let counts = source.split(separator: "\n", omittingEmptySubsequences: false).map(tagsOnly)
        return counts.contains { $0 >= 2 } || zip(counts, counts.dropFirst()).contains { $0 >= 1 && $1 >= 1 }
    }

    /// How many tags a line holds when it holds nothing else but white space (0 otherwise).
    static func tagsOnly(_ line: Substring) -> Int {
        var rest = line
        var tags = 0
        while let open = rest.range(of: "{{") {
            guard rest[..<open.lowerBound].allSatisfy({ $0 == " " || $0 == "\t" }),
                let close = rest[open.upperBound...].range(of: "}}")
            else { return 0 }
            var end = close.upperBound
            if rest[end...].hasPrefix("}") { end = rest.index(after: end) }
            rest = rest[end...]
            tags += 1
        }
        return rest.allSatisfy { $0 == " " || $0 == "\t" } ? tags : 0
    }
}
