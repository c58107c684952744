public import ModelBackends

/// The v1 JSON text written field by field (``JSONTextWriter``): the same bytes as the `Encodable`
/// conformances give through `JSONEncoder` with `.prettyPrinted, .sortedKeys, .withoutEscapingSlashes`
/// (`GoldenDocumentTests` holds every fixture and a document with every optional part to that), without
/// the keyed walk's nodes and key sorting. Each type lists its keys here **in sorted order**, the
/// `encodeIfPresent` ones only when present; the rare parts (the editor's changes, the model check,
/// readers' votes, a routed call's trace, samples) go through their `Encodable` conformance.
extension ReviewDocument {
    public func write(to json: inout JSONTextWriter) throws {
        try json.object { json in
            if let claimCheck {
                json.key("claim_check")
                try json.encodable(claimCheck)
            }
            if let claimCounts {
                json.key("claim_counts")
                claimCounts.write(to: &json)
            }
            if let editor {
                json.key("editor")
                try json.encodable(editor)
            }
            json.field("generated_at", generatedAt)
            json.field("kind", kind.rawValue)
            json.key("personas")
            json.array(personas) { json, persona in persona.write(to: &json) }
            json.key("provenance")
            if let provenance { provenance.write(to: &json) } else { json.null() }
            json.field("schema", schema)
            json.key("tools")
            try json.array(tools) { json, tool in try tool.write(to: &json) }
            json.key("totals")
            totals.write(to: &json)
        }
    }
}

extension ReviewDocument.PersonaInfo {
    func write(to json: inout JSONTextWriter) {
        json.object { json in
            json.field("id", id)
            json.field("name", name)
            json.field("weighs", ifPresent: weighs)
        }
    }
}

extension ReviewDocument.Tool {
    func write(to json: inout JSONTextWriter) throws {
        try json.object { json in
            json.field("best_for", bestFor)
            json.field("category", category)
            if let claimCounts {
                json.key("claim_counts")
                claimCounts.write(to: &json)
            }
            json.field("community", community)
            if let communityVotes {
                json.key("community_votes")
                try json.encodable(communityVotes)
            }
            json.field("description", description)
            json.field("entry", entry)
            json.field("name", name)
            json.key("panel")
            panel.write(to: &json)
            json.field("pricing", pricing)
            json.key("reviews")
            try json.array(reviews) { json, review in try review.write(to: &json) }
            json.field("tagline", tagline)
            json.field("url", url)
        }
    }
}

extension ReviewDocument.Review {
    /// The review as JSON text, field by field, keys in sorted order: the bytes its keyed `encode(to:)`
    /// gives through `JSONEncoder` with `.sortedKeys, .withoutEscapingSlashes` (and `.prettyPrinted` in a
    /// document; `GoldenDocumentTests` holds both) — a batch saves one per persona call and writes four in
    /// every document, where the `Codable` walk was a measurable share of both.
    public func write(to json: inout JSONTextWriter) throws {
        try json.object { json in
            json.field("agreement", ifPresent: agreement)
            json.field("attempts", attempts)
            json.field("backend", backend)
            json.field("calibrated_score", ifPresent: calibratedScore)
            if let claims {
                json.key("claims")
                json.array(claims) { json, claim in claim.write(to: &json) }
            }
            json.field("cost_usd", costUSD)
            json.field("error", error)
            json.field("family", family)
            json.key("flags")
            json.array(flags) { json, flag in json.string(flag) }
            json.field("input_tokens", inputTokens)
            json.field("latency_ms", latencyMS)
            json.field("model", model)
            json.field("output_tokens", outputTokens)
            json.field("persona", persona)
            json.key("routing")
            try json.encodable(routing)
            if let samples {
                json.key("samples")
                try json.encodable(samples)
            }
            json.field("score", score)
            json.field("score_median", ifPresent: scoreMedian)
            if let spread {
                json.key("spread")
                try json.encodable(spread)
            }
            json.field("status", status.rawValue)
            json.field("text", text)
            json.field("ttft_ms", ttftMS)
            json.field("verdict", verdict?.rawValue)
        }
    }

    /// The compact JSON a batch saves for a persona's result.
    public func canonicalText() throws -> String {
        var json = JSONTextWriter(pretty: false, capacity: 2048)
        try write(to: &json)
        return json.text
    }
}

extension ReviewDocument.Panel {
    func write(to json: inout JSONTextWriter) {
        json.object { json in
            json.field("abstained", abstained)
            json.field("close_call", ifPresent: closeCall)
            if let interval {
                json.key("interval")
                json.object { json in
                    json.key("score_median")
                    json.doubles(interval.scoreMedian)
                    json.key("ship_share")
                    json.doubles(interval.shipShare)
                }
            }
            json.field("score_max", scoreMax)
            json.field("score_median", scoreMedian)
            json.field("score_min", scoreMin)
            json.field("ship", ship)
            json.field("ship_share", shipShare)
            json.field("skip", skip)
            json.field("verdict", verdict.rawValue)
        }
    }
}

extension ReviewDocument.Totals {
    func write(to json: inout JSONTextWriter) {
        json.object { json in
            json.field("calls", calls)
            json.field("cost_usd", costUSD)
            json.field("input_tokens", inputTokens)
            json.field("output_tokens", outputTokens)
            json.field("wall_ms", wallMS)
        }
    }
}

extension ReviewDocument.Provenance {
    func write(to json: inout JSONTextWriter) {
        json.object { json in
            json.field("panel_version", panelVersion)
            json.key("prompts")
            json.strings(prompts)
            json.key("templates")
            json.strings(templates)
        }
    }
}

extension ClaimCounts {
    func write(to json: inout JSONTextWriter) {
        json.object { json in
            json.field("contradicted", contradicted)
            json.field("supported", supported)
            json.field("total", total)
            json.field("unsupported", unsupported)
        }
    }
}

extension JSONTextWriter {
    /// An array of doubles, or null.
    mutating func doubles(_ values: [Double]?) {
        guard let values else { return null() }
        array(values) { json, value in json.double(value) }
    }
}
