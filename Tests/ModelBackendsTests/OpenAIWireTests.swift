import Foundation
import Testing

@testable import ModelBackends

/// A chat completion is read field by field, the fields nobody reads passed over; it must read every body
/// exactly as the whole document parsed and then looked up did (`reference`, the reading it replaced).
@Suite struct OpenAIWireTests {
    /// The reading before: the whole body parsed into values, then the fields looked up.
    func reference(_ json: JSONValue?) -> OpenAIWire.Completion? {
        guard case .array(let choices)? = json?["choices"] else { return nil }
        var parsed: [OpenAIWire.Completion.Choice] = []
        for choice in choices {
            guard case .object(let message)? = choice["message"] else { return nil }
            parsed.append(
                .init(
                    content: message["content"]?.stringValue, refusal: message["refusal"]?.stringValue,
                    finishReason: choice["finish_reason"]?.stringValue))
        }
        return .init(
            model: json?["model"]?.stringValue, choices: parsed,
            usage: TokenUsage(
                inputTokens: json?["usage"]?["prompt_tokens"]?.intValue, outputTokens: json?["usage"]?["completion_tokens"]?.intValue))
    }

    func expectSameReading(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let data = Data(text.utf8)
        #expect(OpenAIWire.Completion(data) == reference(JSONValue.parse(data)), "\(text)", sourceLocation: sourceLocation)
    }

    @Test func readsWhatTheWholeParseRead() {
        let mock = """
            {"model":"mock","choices":[{"index":0,"finish_reason":"stop","message":{"refusal":null,"content":"{\\"score\\": 60, \\"verdict\\": \\"ship\\"}","role":"assistant"},"logprobs":null}],"id":"chatcmpl-77816590cd0b","usage":{"total_tokens":89,"prompt_tokens":6,"completion_tokens":83},"created":1764000000,"object":"chat.completion","system_fingerprint":"fp_mock"}
            """
        let read = OpenAIWire.Completion(Data(mock.utf8))
        #expect(read?.model == "mock")
        #expect(read?.choices == [.init(content: #"{"score": 60, "verdict": "ship"}"#, refusal: nil, finishReason: "stop")])
        #expect(read?.usage == TokenUsage(inputTokens: 6, outputTokens: 83))
        let cases = [
            mock,
            #"{"choices":[]}"#,
            #"{"choices":[{"message":{"content":"a"}}], "choices": [{"message":{"content":"b"}}]}"#,  // the last key counts
            #"{"choices":[{"message":{"content":"a"},"message":{"refusal":"no"}}]}"#,
            #"{"choices":[{"message":{"content":"a"},"message":null}]}"#,
            #"{"choices":[{"message":{"content":"a","content":7}}]}"#,
            #"{"choices":[{"message":{"con\u0074ent":"escaped key"}, "finish_reason": 3}]}"#,
            #"{"choices":[1, {"message":{}}]}"#,
            #"{"choices":[{"message":{}}, 1]}"#,
            #"{"choices":{"message":{}}}"#,
            #"{"choices":null}"#,
            #"[{"choices":[]}]"#,
            #"{"choices":[{"message":{"content":"a"}}]} x"#,
            #"{"choices":[{"message":{"content":"a"}},]}"#,  // a trailing comma, as Foundation's reader allows
            #"{"choices":[{"message":{"content":"a"}}],"id":"\x"}"#,  // a bad escape where nobody reads
            #"{"choices":[{"message":{"content":"a"}}],"id":"\u12G4"}"#,
            #"{"choices":[{"message":{"content":"a"}}],"logprobs":{"a":[1,2,{"b":tru}]}}"#,
            #"{"choices":[{"message":{"content":"a"}}],"usage":{"prompt_tokens":6.0,"completion_tokens":-1}}"#,
            #"{"choices":[{"message":{"content":"a"}}],"usage":[1]}"#,
            #"{"choices":[{"message":{"content":"a"}}],"model":{"name":"x"}}"#,
            "{\"choices\":[{\"message\":{\"content\":\"a\"}}],\"id\":\"\u{1}\"}",  // a raw control character
            "{\"choices\":[{\"message\":{\"content\":\"a\"}}],\"id\":\"\\uD83D\\uDE00 \\uD83D\"}",
            "{\"choices\":[{\"message\":{\"content\":\"a\"}}],\"junk\":" + String(repeating: "[", count: 600)
                + String(repeating: "]", count: 600)
                + "}",
            " \n{ \"choices\" : [ { \"message\" : { \"content\" : \"a\" } } ] } \n",
            "", "{", #"{"choices":[{"message":{"content":"a"}}]"#,
        ]
        for text in cases { expectSameReading(text) }
        // Bytes that are not UTF-8, where nobody reads them and where the text is.
        for bytes in [
            Array(#"{"choices":[{"message":{"content":"a"}}],"id":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8),
            Array(#"{"choices":[{"message":{"content":""#.utf8) + [0xC3] + Array(#""}}]}"#.utf8),
        ] {
            let data = Data(bytes)
            #expect(OpenAIWire.Completion(data) == reference(JSONValue.parse(data)))
        }
    }

    /// Random completion-shaped bodies — fields repeated, out of order, of the wrong kinds, nested junk —
    /// and each cut short or with a byte changed: the field-by-field reading agrees with the whole parse.
    @Test(arguments: 0..<300) func agreesWithTheWholeParseOnRandomBodies(seed: Int) {
        var random = SplitMix64(seed: UInt64(seed) &+ 0x5EED)
        let text = body(&random)
        expectSameReading(text)
        let bytes = Array(text.utf8)
        let cut = Int(random.next() % UInt64(bytes.count + 1))
        expectSameReading(String(decoding: bytes[..<cut], as: UTF8.self))
        var changed = bytes
        if !changed.isEmpty {
            let replacements = Array(#"{}[],:"\ 0a-"#.utf8)
            changed[Int(random.next() % UInt64(changed.count))] = replacements[Int(random.next() % UInt64(replacements.count))]
            let data = Data(changed)
            #expect(OpenAIWire.Completion(data) == reference(JSONValue.parse(data)), "\(String(decoding: changed, as: UTF8.self))")
        }
    }

    func pick<T>(_ random: inout SplitMix64, _ choices: [T]) -> T { choices[Int(random.next() % UInt64(choices.count))] }

    func body(_ random: inout SplitMix64) -> String {
        var fields: [String] = []
        for _ in 0..<(1 + random.next() % 6) {
            switch random.next() % 6 {
            case 0, 1: fields.append(#""choices":"# + choices(&random))
            case 2: fields.append(#""model":"# + pick(&random, [#""gpt""#, "null", "3", #"{"a":1}"#, #""m\"x""#]))
            case 3:
                fields.append(
                    #""usage":"#
                        + pick(
                            &random,
                            [
                                #"{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}"#, #"{"prompt_tokens":5.5}"#,
                                #"{"completion_tokens":"7"}"#, "null", #"{"prompt_tokens":1e2,"prompt_tokens":3}"#,
                            ]))
            default:
                fields.append("\"\(pick(&random, ["id", "created", "object", "system_fingerprint", "x"]))\":" + junk(&random, depth: 0))
            }
        }
        return "{" + fields.joined(separator: pick(&random, [",", ", ", ",\n  "])) + "}"
    }

    func choices(_ random: inout SplitMix64) -> String {
        if random.next() % 8 == 0 { return junk(&random, depth: 0) }
        var items: [String] = []
        for _ in 0..<(random.next() % 3) {
            if random.next() % 10 == 0 {
                items.append(junk(&random, depth: 1))
                continue
            }
            var fields: [String] = []
            for _ in 0..<(1 + random.next() % 4) {
                switch random.next() % 4 {
                case 0, 1: fields.append(#""message":"# + message(&random))
                case 2: fields.append(#""finish_reason":"# + pick(&random, [#""stop""#, #""content_filter""#, "null", "1"]))
                default: fields.append("\"\(pick(&random, ["index", "logprobs", "delta"]))\":" + junk(&random, depth: 1))
                }
            }
            items.append("{" + fields.joined(separator: ",") + "}")
        }
        return "[" + items.joined(separator: ",") + "]"
    }

    func message(_ random: inout SplitMix64) -> String {
        if random.next() % 8 == 0 { return pick(&random, ["null", "[]", #""text""#]) }
        var fields: [String] = []
        for _ in 0..<(random.next() % 4) {
            let key = pick(&random, ["content", "refusal", "role", "tool_calls", #"cont\u0065nt"#])
            let value = pick(
                &random,
                [
                    #""plain text""#, #""{\"score\": 72, \"verdict\": \"ship\"}""#, "null", "42", #""caf\u00e9 \ud83d\ude00""#,
                    #""line\nbreak""#,
                ])
            fields.append("\"\(key)\":\(value)")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    func junk(_ random: inout SplitMix64, depth: Int) -> String {
        switch depth > 3 ? random.next() % 4 : random.next() % 6 {
        case 0: return pick(&random, ["true", "false", "null"])
        case 1: return pick(&random, ["0", "-12", "3.25", "1e9", "12345678901234567890"])
        case 2: return pick(&random, [#""chatcmpl-77816590cd0b""#, #""a\"b\\c\/\b\f\n\r\t\u0041""#, #""""#])
        case 3: return #""fp_mock""#
        case 4: return "[" + (0..<(random.next() % 3)).map { _ in junk(&random, depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            return "{"
                + (0..<(random.next() % 3)).map { index in "\"k\(index)\":" + junk(&random, depth: depth + 1) }.joined(separator: ",") + "}"
        }
    }
}
