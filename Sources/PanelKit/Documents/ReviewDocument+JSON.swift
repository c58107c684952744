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
            json.key("generated_at")
            json.string(generatedAt)
            json.key("kind")
            json.string(kind.rawValue)
            json.key("personas")
            json.array(personas) { json, persona in persona.write(to: &json) }
            json.key("provenance")
            if let provenance { provenance.write(to: &json) } else { json.null() }
            json.key("schema")
            json.string(schema)
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
            json.key("id")
            json.string(id)
            json.key("name")
            json.string(name)
            if let weighs {
                json.key("weighs")
                json.string(weighs)
            }
        }
    }
}

extension ReviewDocument.Tool {
    func write(to json: inout JSONTextWriter) throws {
        try json.object { json in
            json.key("best_for")
            json.string(bestFor)
            json.key("category")
            json.string(category)
            if let claimCounts {
                json.key("claim_counts")
                claimCounts.write(to: &json)
            }
            json.key("community")
            json.string(community)
            if let communityVotes {
                json.key("community_votes")
                try json.encodable(communityVotes)
            }
            json.key("description")
            json.string(description)
            json.key("entry")
            json.string(entry)
            json.key("name")
            json.string(name)
            json.key("panel")
            panel.write(to: &json)
            json.key("pricing")
            json.string(pricing)
            json.key("reviews")
            try json.array(reviews) { json, review in try review.write(to: &json) }
            json.key("tagline")
            json.string(tagline)
            json.key("url")
            json.string(url)
        }
    }
}

extension ReviewDocument.Panel {
    func write(to json: inout JSONTextWriter) {
        json.object { json in
            json.key("abstained")
            json.int(abstained)
            if let closeCall {
                json.key("close_call")
                json.bool(closeCall)
            }
            if let interval {
                json.key("interval")
                json.object { json in
                    json.key("score_median")
                    json.doubles(interval.scoreMedian)
                    json.key("ship_share")
                    json.doubles(interval.shipShare)
                }
            }
            json.key("score_max")
            json.int(scoreMax)
            json.key("score_median")
            json.double(scoreMedian)
            json.key("score_min")
            json.int(scoreMin)
            json.key("ship")
            json.int(ship)
            json.key("ship_share")
            json.double(shipShare)
            json.key("skip")
            json.int(skip)
            json.key("verdict")
            json.string(verdict.rawValue)
        }
    }
}

extension ReviewDocument.Totals {
    func write(to json: inout JSONTextWriter) {
        json.object { json in
            json.key("calls")
            json.int(calls)
            json.key("cost_usd")
            json.double(costUSD)
            json.key("input_tokens")
            json.int(inputTokens)
            json.key("output_tokens")
            json.int(outputTokens)
            json.key("wall_ms")
            json.int(wallMS)
        }
    }
}

extension ReviewDocument.Provenance {
    func write(to json: inout JSONTextWriter) {
        json.object { json in
            json.key("panel_version")
            json.string(panelVersion)
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
            json.key("contradicted")
            json.int(contradicted)
            json.key("supported")
            json.int(supported)
            json.key("total")
            json.int(total)
            json.key("unsupported")
            json.int(unsupported)
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
