import ModelBackends

/// A value or JSON `null`, always written — the type the generated API gives a required property that may
/// be null (openapi-generator-config.yaml's type overrides). The generator makes such a property an
/// optional and leaves the key out when it is nil (apple/swift-openapi-generator#934), where the API has
/// always answered `"cost_usd": null`; set to a `Nullable`, the key is there and its value `null`.
struct Nullable<Wrapped: Codable & Hashable & Sendable>: Codable, Hashable, Sendable {
    var value: Wrapped?

    init(_ value: Wrapped?) { self.value = value }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        value = container.decodeNil() ? nil : try container.decode(Wrapped.self)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value { try container.encode(value) } else { try container.encodeNil() }
    }
}

/// A review's panel.document/v1 as the API embeds it, or `null` before it is done: passed through as the
/// engine wrote it (with the editor block added), not as the generated types would re-model it — the
/// document's schema is the engine's (docs/documents.md), and openapi.yaml describes only its outline.
struct DocumentBody: Codable, Hashable, Sendable {
    var value: JSONValue

    init(_ value: JSONValue) { self.value = value }

    init(from decoder: any Decoder) throws { value = try JSONValue(from: decoder) }

    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}
