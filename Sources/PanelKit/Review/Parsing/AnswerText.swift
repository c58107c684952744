import Foundation
import ModelBackends

/// What precedes the answer proper: reasoning blocks and chat-template tokens that local servers and
/// reasoning models leave in the text.
enum AnswerText {
    /// Reasoning delimiters, as (open, close): DeepSeek-R1/Qwen3/QwQ `<think>`, Claude-style
    /// `<thinking>`, `<reasoning>`, Gemma-style `<thought>`, Seed-OSS `<seed:think>`, Magistral
    /// `[THINK]`, Kimi `◁think▷`, Cohere `<|START_THINKING|>`, OpenThoughts `<|begin_of_thought|>`.
    static let reasoningBlocks: [(open: String, close: String)] = [
        ("<think>", "</think>"), ("<thinking>", "</thinking>"), ("<reasoning>", "</reasoning>"), ("<thought>", "</thought>"),
        ("<seed:think>", "</seed:think>"), ("[THINK]", "[/THINK]"), ("\u{25C1}think\u{25B7}", "\u{25C1}/think\u{25B7}"),
        ("<|START_THINKING|>", "<|END_THINKING|>"), ("<|begin_of_thought|>", "<|end_of_thought|>"),
    ]

    /// Chat-template tokens that servers sometimes fail to strip.
    static let templateTokens = [
        "<|im_start|>assistant", "<|im_end|>", "<|im_start|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "<|end|>",
        "<|return|>", "<end_of_turn>", "<start_of_turn>model", "<|assistant|>", "[/INST]", "<|END_OF_TURN_TOKEN|>",
        "<|CHATBOT_TOKEN|>", "<|START_RESPONSE|>", "<|END_RESPONSE|>", "<|begin_of_solution|>", "<|end_of_solution|>", "</s>",
        "<s>",
    ]

    /// The answer without reasoning or template tokens; a failure when only reasoning was written.
    static func prepare(_ answer: String) -> Result<String, ParseFailure> {
        var text = answer
        // One pass over the UTF-8 decides whether any of the (Foundation) rewriting below is needed: every
        // answer comes through here, most with neither a carriage return nor a tag.
        var hasReturn = false
        var hasMarker = false
        text.withUTF8 { bytes in
            var index = 0
            while index < bytes.count, !(hasReturn && hasMarker) {
                switch bytes[index] {
                case 0x0D: hasReturn = true
                case UInt8(ascii: "<"), UInt8(ascii: "["): hasMarker = true
                // U+25C1 (◁), E2 97 81.
                case 0xE2 where index + 2 < bytes.count && bytes[index + 1] == 0x97 && bytes[index + 2] == 0x81: hasMarker = true
                default: break
                }
                index += 1
            }
        }
        if hasReturn { text = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n") }
        guard hasMarker else { return .success(text.trimmedWhitespace()) }
        var hadReasoning = false
        // gpt-oss (harmony): the answer is the `final` channel; `analysis` is reasoning.
        if let final = text.range(of: "<|channel|>final<|message|>", options: .backwards) {
            text = String(text[final.upperBound...])
            hadReasoning = true
        } else if text.contains("<|channel|>analysis") {
            return .failure(ParseFailure(.reasoningOnly, "the answer has only a reasoning channel and no final answer"))
        }
        var unclosed = false
        for (open, close) in reasoningBlocks {
            while let closeRange = text.range(of: close, options: .caseInsensitive) {
                hadReasoning = true
                // The block's opening tag; none before it when the chat template put it in the prompt.
                let openRange = text.range(
                    of: open, options: [.caseInsensitive, .backwards], range: text.startIndex..<closeRange.lowerBound)
                text.removeSubrange((openRange?.lowerBound ?? text.startIndex)..<closeRange.upperBound)
            }
            if let openRange = text.range(of: open, options: .caseInsensitive) {
                // Cut off while still thinking (the answer-length cap, usually).
                hadReasoning = true
                unclosed = true
                text.removeSubrange(openRange.lowerBound...)
            }
        }
        for token in templateTokens where text.contains(token) {
            text = text.replacingOccurrences(of: token, with: "\n")
        }
        text = text.trimmedWhitespace()
        if text.isEmpty && hadReasoning {
            return .failure(
                ParseFailure(
                    unclosed ? .truncated : .reasoningOnly,
                    unclosed
                        ? "the answer stopped inside its reasoning block, before the review"
                        : "the answer has only a reasoning block and no review after it"))
        }
        return .success(text)
    }

    /// `<score>78</score>`-style fields (Anthropic's prompting guides teach XML tags); the text without them.
    static func extractTags(_ text: String, into findings: inout AnswerFindings) -> String {
        guard text.contains("</") else { return text }
        var rest = text
        for name in ["score", "rating", "verdict", "decision", "ship", "rationale", "review", "paragraph", "analysis", "explanation"] {
            while let open = rest.range(of: "<\(name)>", options: .caseInsensitive),
                let close = rest.range(of: "</\(name)>", options: .caseInsensitive, range: open.upperBound..<rest.endIndex)
            {
                let value = String(rest[open.upperBound..<close.lowerBound])
                switch name {
                case "score", "rating": findings.addScore(text: value)
                case "verdict", "decision": findings.addVerdict(text: value, yesNo: false)
                case "ship": findings.addVerdict(text: value, yesNo: true)
                default:
                    let paragraph = value.trimmedWhitespace()
                    if findings.paragraph == nil, !paragraph.isEmpty {
                        findings.paragraph = paragraph
                        findings.tagParagraph = true
                    }
                }
                rest.replaceSubrange(open.lowerBound..<close.upperBound, with: "\n")
            }
        }
        return rest
    }
}
