import Foundation
public import PanelKit

/// Where the trust commands (`panel eval`, `stats`, `calibrate`) read documents from: v1 JSON files, a
/// batch job's kept JSON documents, or the team server's finished reviews (with their editor blocks).
public enum TrustInputs {
    /// Documents from files, each refused with its path and field when it is not a v1 document. A
    /// directory stands for its `*.json` documents (a batch's `--out`; its `summary.json` is left out).
    public static func documents(paths: [String]) throws -> [ReviewDocument] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.filter { $0.hasSuffix(".json") && $0 != "summary.json" }.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        return try files.map { path in
            guard let data = FileManager.default.contents(atPath: path) else { throw DocumentError("\(path): cannot be read") }
            return try JSONDocumentRenderer.decode(data, source: path)
        }
    }

    /// A job's JSON documents as the store keeps them.
    public static func documents(job: String, store: any ReviewStore) async throws -> [ReviewDocument] {
        guard try await store.jobExists(job) else {
            throw DocumentError("no job named '\(job)' in \(store.location); panel jobs list shows the jobs there")
        }
        var texts: [(String, String)] = []
        try await store.forEachDocument(job: job, wanted: { $1 == DocumentFormat.json.fileExtension }) { document in
            texts.append((document.name, document.text))
        }
        return try texts.map { try JSONDocumentRenderer.decode(Data($0.1.utf8), source: "job \(job): \($0.0).json") }
    }

    /// The team server's finished reviews, each with its editors' block.
    public static func teamDocuments(store: any ReviewStore) async throws -> [ReviewDocument] {
        var documents: [ReviewDocument] = []
        var cursor: TeamReview.Cursor?
        while true {
            let page = try await store.reviews(query: nil, verdict: nil, limit: 200, before: cursor)
            for summary in page where summary.status == .done {
                guard let review = try await store.review(id: summary.id), let text = review.document else { continue }
                var document = try JSONDocumentRenderer.decode(Data(text.utf8), source: "review \(review.id)")
                document.editor = EditorAction.editor(try await store.editorActions(review: review.id))
                documents.append(document)
            }
            guard page.count == 200, let last = page.last else { break }
            cursor = last.cursor
        }
        return documents
    }

    /// Editors' decisions the documents carry (team server reviews): an override is a label; an approval
    /// without one labels the panel's own verdict (when it is ship or skip). The newest document's wins.
    public static func labels(fromEditorBlocksOf documents: [ReviewDocument]) -> [EditorLabel] {
        var labels: [String: (stamp: String, label: EditorLabel)] = [:]
        for document in documents {
            guard let editor = document.editor else { continue }
            for tool in document.tools {
                var label: EditorLabel?
                if let override = editor.override(tool: tool.name) {
                    label = EditorLabel(name: tool.name, verdict: override.verdict, source: "an override by \(override.by)")
                } else if let approved = editor.approved, let verdict = Verdict(rawValue: tool.panel.verdict.rawValue) {
                    label = EditorLabel(name: tool.name, verdict: verdict, source: "an approval by \(approved.by)")
                }
                if let label, labels[tool.name].map({ $0.stamp <= document.generatedAt }) ?? true {
                    labels[tool.name] = (document.generatedAt, label)
                }
            }
        }
        return labels.values.map(\.label).sorted { $0.name < $1.name }
    }
}
