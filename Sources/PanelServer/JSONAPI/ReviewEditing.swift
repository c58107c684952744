import Foundation
import HTTPTypes
import ModelBackends
import PanelEngine
import PanelKit

/// An editor's request — edits, an override, an approval — checked against the review's document (the
/// tool and persona must be in it; texts are bounded; an approval over contradicted claims needs them
/// confirmed), for the API's PATCH and the page's forms alike.
struct ReviewEditing {
    let server: TeamServer

    typealias Request = Components.Schemas.EditorRequest
    static let operation = Operations.EditReview.id

    func actions(_ request: Request, review: TeamReview, by: String) async throws -> [EditorAction] {
        guard review.status == .done, let document = try review.document(actions: []) else {
            throw APIError(.conflict, code: "not_ready", "the review is \(review.status.rawValue); it can be edited once it is done")
        }
        let at = server.timestamp()
        var actions: [EditorAction] = []
        func field(_ value: String, _ key: String, in path: String, max: Int) throws(APIError) -> String {
            let text = value.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw .badRequest("\(path).\(key): required, non-empty text") }
            guard text.count <= max else { throw .badRequest("\(path).\(key): at most \(max) characters") }
            return text
        }
        func tool(_ value: String, in path: String) throws(APIError) -> ReviewDocument.Tool {
            let name = try field(value, "tool", in: path, max: 500)
            guard let tool = document.tools.first(where: { $0.name == name }) else {
                throw .badRequest(
                    "\(path).tool: '\(name.prefix(80))' is not a tool of this review (\(document.tools.map(\.name).joined(separator: ", ")))"
                )
            }
            return tool
        }
        if let edits = request.edits {
            guard !edits.isEmpty else { throw FieldRules.refusal(Self.operation, "edits") }
            for (index, edit) in edits.enumerated() {
                let path = "edits[\(index)]"
                let target = try tool(edit.tool, in: path)
                let persona = try field(edit.persona, "persona", in: path, max: 100)
                guard target.reviews.contains(where: { $0.persona == persona }) else {
                    throw APIError.badRequest(
                        "\(path).persona: '\(persona.prefix(80))' did not review \(target.name) (\(target.reviews.map(\.persona).joined(separator: ", ")))"
                    )
                }
                let text = try field(edit.text, "text", in: path, max: 20_000)
                actions.append(EditorAction(kind: .edit, tool: target.name, persona: persona, text: text, by: by, at: at))
            }
        }
        if let override = request.override {
            let target = try tool(override.tool, in: "override")
            let note = try field(override.note, "note", in: "override", max: 2_000)
            let verdict: Verdict = override.verdict == .ship ? .ship : .skip
            actions.append(EditorAction(kind: .override, tool: target.name, verdict: verdict, note: note, by: by, at: at))
        }
        if let approve = request.approve {
            guard approve else { throw FieldRules.refusal(Self.operation, "approve") }
            try await checkContradictedClaims(document, review: review, edits: actions, confirmed: request.confirm == true)
            actions.append(EditorAction(kind: .approve, by: by, at: at))
        }
        guard !actions.isEmpty else { throw APIError.badRequest("the body asks for nothing: give edits, override or approve") }
        return actions
    }

    /// An approval of a review whose paragraphs (those no editor rewrote, before or in this request) hold
    /// claims the listing contradicts needs `confirm: true` — or, under `team.approve_contradicted: refuse`,
    /// the paragraphs edited first.
    func checkContradictedClaims(_ document: ReviewDocument, review: TeamReview, edits: [EditorAction], confirmed: Bool) async throws {
        let earlier = try await server.store.editorActions(review: review.id)
        let edited = Set((earlier + edits).filter { $0.kind == .edit }.map { "\($0.tool ?? "")\u{0}\($0.persona ?? "")" })
        var contradicted: [String] = []
        for tool in document.tools {
            for item in tool.reviews where !edited.contains("\(tool.name)\u{0}\(item.persona)") {
                for claim in item.claims ?? [] where claim.status == .contradicted {
                    contradicted.append(
                        "\(document.personaName(item.persona)) on \(tool.name): “\(claim.text)” (the listing says “\(claim.quote ?? "")”)")
                }
            }
        }
        guard !contradicted.isEmpty else { return }
        let list = contradicted.prefix(5).joined(separator: "; ") + (contradicted.count > 5 ? "; and \(contradicted.count - 5) more" : "")
        switch server.engine.backends.configuration?.approveContradicted ?? .confirm {
        case .refuse:
            throw APIError(
                .conflict, code: "contradicted_claims",
                "\(contradicted.count) claim(s) the listing contradicts — \(list). This team approves only once they are fixed (team.approve_contradicted: refuse): edit the paragraphs, then approve"
            )
        case .confirm where !confirmed:
            throw APIError(
                .conflict, code: "contradicted_claims",
                "\(contradicted.count) claim(s) the listing contradicts — \(list). Check them, then approve with confirm: true")
        case .confirm:
            return
        }
    }
}

extension TeamReview {
    /// The review's document with its editor block; nil until it is done.
    func document(actions: [EditorAction]) throws -> ReviewDocument? {
        guard status == .done, let text = document else { return nil }
        var document = try JSONDocumentRenderer.decode(Data(text.utf8), source: "review \(id)")
        document.editor = EditorAction.editor(actions)
        return document
    }
}
