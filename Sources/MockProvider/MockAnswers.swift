import Crypto
import Foundation

/// Writes the mock's answers: canned text when it has some for the persona and tool, otherwise a
/// plausible review generated deterministically from the persona and tool names.
struct MockAnswers: Sendable {
    let configuration: MockProviderConfiguration

    /// The persona and tool a chat request is about, read from our prompts: the system message
    /// says "You are the Builder…", the listing block says "Name: …".
    static func subject(of messages: [[String: Any]]) -> (persona: String, tool: String) {
        let system = messages.filter { ($0["role"] as? String) == "system" }.compactMap { $0["content"] as? String }.joined(separator: "\n")
        let user = messages.filter { ($0["role"] as? String) == "user" }.compactMap { $0["content"] as? String }.first ?? ""
        var persona = "reviewer"
        if let end = Self.end(of: "You are the ", in: system) {
            persona = String(system[end...].prefix { $0.isLetter || $0 == "-" || $0 == "_" }).lowercased()
        }
        var tool = "unknown tool"
        let text = "\n" + user
        if let end = Self.end(of: "\nName: ", in: text) {
            tool = String(text[end...].prefix { $0 != "\n" }).trimmingCharacters(in: .whitespaces)
        }
        return (persona, tool)
    }

    /// The listing's description in the request (between `Description:` and `</listing>`).
    static func description(of messages: [[String: Any]]) -> String {
        let user = messages.filter { ($0["role"] as? String) == "user" }.compactMap { $0["content"] as? String }.first ?? ""
        guard let start = end(of: "\nDescription:\n", in: user) else { return "" }
        let rest = user[start...]
        return String(rest[..<(rest.range(of: "\n</listing>")?.lowerBound ?? rest.endIndex)])
    }

    /// Where the first `needle` in `text` ends (a plain byte search: the generic one was most of the
    /// mock's CPU).
    static func end(of needle: String, in text: String) -> String.Index? {
        let pattern = Array(needle.utf8)
        var text = text
        let offset = text.withUTF8 { bytes -> Int? in
            guard bytes.count >= pattern.count else { return nil }
            for start in 0...(bytes.count - pattern.count) where bytes[start] == pattern[0] {
                if (1..<pattern.count).allSatisfy({ bytes[start + $0] == pattern[$0] }) { return start + pattern.count }
            }
            return nil
        }
        return offset.map { text.utf8.index(text.utf8.startIndex, offsetBy: $0) }
    }

    func answer(messages: [[String: Any]], bodyHash: String, repeat: Int = 0) -> (text: String, model: String?) {
        let (persona, tool) = Self.subject(of: messages)
        let isRepair = messages.count > 2
        if let canned = configuration.canned.first(where: {
            $0.persona.lowercased() == persona && $0.tool.lowercased() == tool.lowercased()
        }) {
            if isRepair, let repair = canned.repair { return (repair, canned.model) }
            if !isRepair { return (canned.text, canned.model) }
        }
        var score = Self.score(persona: persona, tool: tool)
        // Asked the same again (`--samples`, or a retry), a model at temperature answers a little
        // differently: with `sampleSpread`, each repeat moves the score by up to ± that much.
        if configuration.sampleSpread > 0, `repeat` > 0 {
            let digest = SHA256.hash(data: Data("\(bodyHash)#\(`repeat`)".utf8))
            let value = digest.prefix(4).reduce(0) { $0 << 8 | Int($1) }
            score = min(100, max(0, score + value % (2 * configuration.sampleSpread + 1) - configuration.sampleSpread))
        }
        // With `scoreByDescriptionLength`, the score grows with the description (a length bias to audit).
        if configuration.lengthBias > 0 {
            let description = Self.description(of: messages)
            score = min(100, max(0, score + Int(Double(description.count) / 100 * configuration.lengthBias)))
        }
        let verdict = score >= 60 ? "ship" : "skip"
        let paragraph = Self.paragraph(persona: persona, tool: tool, verdict: verdict)
        var shape = configuration.shape
        if isRepair && shape == .nonsense { shape = .nonsense }
        if shape == .mixed {
            let choices: [MockProviderConfiguration.AnswerShape] = [.json, .fenced, .scoreLine, .labelled]
            shape = choices[Int(bodyHash.prefix(8), radix: 16).map { $0 % 4 } ?? 0]
        }
        let json = "{\"rationale\": \(Self.quote(paragraph)), \"score\": \(score), \"verdict\": \"\(verdict)\"}"
        switch shape {
        case .json, .mixed: return (json, nil)
        case .fenced: return ("Here is my review:\n\n```json\n\(json)\n```\n", nil)
        case .scoreLine: return ("\(score)/100 · \(verdict)\n\n\(paragraph)", nil)
        case .labelled: return ("**Score:** \(score)/100\n**Verdict:** \(verdict.capitalized)\n\n\(paragraph)", nil)
        case .nonsense: return ("I would rather not put a number on this one. It depends on many things.", nil)
        }
    }

    /// A stable score in 35…94 for a persona and tool.
    static func score(persona: String, tool: String) -> Int {
        let digest = SHA256.hash(data: Data("\(persona)|\(tool)".utf8))
        let value = digest.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        return 35 + value % 60
    }

    static func paragraph(persona: String, tool: String, verdict: String) -> String {
        "As the \(persona), I read \(tool) as a focused product with a clear primitive and a buyer who already feels the pain. "
            + "The risks are real — incumbents can copy the feature and pricing may not survive scale — but the first hour of use "
            + "delivers, and that is why my verdict is \(verdict)."
    }

    static func quote(_ text: String) -> String {
        var quoted = ""
        MockJSON.quote(text, into: &quoted)
        return quoted
    }
}
