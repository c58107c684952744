public import ModelBackends

/// The JSON shape a persona is asked to answer in. The rationale comes first so models that write
/// in order reason before they score.
public enum ReviewSchema {
    public static let outputSchema = OutputSchema(
        name: "persona_review",
        schema: .object([
            "type": .string("object"),
            "properties": .object([
                "rationale": .object(["type": .string("string")]),
                "score": .object(["type": .string("integer")]),
                "verdict": .object(["type": .string("string"), "enum": .array([.string("ship"), .string("skip")])]),
            ]),
            "required": .array([.string("rationale"), .string("score"), .string("verdict")]),
            "additionalProperties": .bool(false),
        ]))
}
