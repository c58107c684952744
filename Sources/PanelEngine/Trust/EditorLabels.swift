import Foundation
public import PanelKit
import Yams

/// An editor's decision on a listing: what `panel eval` compares the panel with, and `panel calibrate`
/// fits scores to.
public struct EditorLabel: Sendable, Hashable {
    /// The listing's name, as in the documents.
    public var name: String
    public var verdict: Verdict
    /// The editor's own score, 0–100, when given.
    public var score: Double?
    /// Where it came from (`labels.csv:4`, `review r_… (override by ann)`), for messages.
    public var source: String

    public init(name: String, verdict: Verdict, score: Double? = nil, source: String) {
        self.name = name
        self.verdict = verdict
        self.score = score
        self.source = source
    }
}

/// A label file that cannot be used, naming the file, the row and what is wrong.
public struct LabelError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Reads label files: CSV with a header naming `name`, `verdict` and optionally `score` (any order,
/// other columns ignored; quoted fields as RFC 4180), or YAML — a list of `{name, verdict, score?}`
/// (or `labels:` holding one). Each listing may be named once.
public enum EditorLabels {
    public static func load(path: String) throws(LabelError) -> [EditorLabel] {
        guard let data = FileManager.default.contents(atPath: path) else { throw LabelError("\(path): cannot be read") }
        guard let text = String(data: data, encoding: .utf8) else { throw LabelError("\(path): is not UTF-8 text") }
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        return try parse(text, source: path, csv: ext == "csv" || (ext != "yaml" && ext != "yml" && looksLikeCSV(text)))
    }

    static func looksLikeCSV(_ text: String) -> Bool {
        let first = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return first.contains(",") && !first.contains(":")
    }

    public static func parse(_ text: String, source: String, csv: Bool) throws(LabelError) -> [EditorLabel] {
        let labels = csv ? try parseCSV(text, source: source) : try parseYAML(text, source: source)
        var seen: [String: String] = [:]
        var duplicates: [String] = []
        for label in labels {
            if let first = seen[label.name] {
                duplicates.append("'\(label.name)' (\(first) and \(label.source))")
            } else {
                seen[label.name] = label.source
            }
        }
        if !duplicates.isEmpty {
            throw LabelError("\(source): each listing is labelled once; named again: \(duplicates.joined(separator: ", "))")
        }
        return labels
    }

    static func label(name: String?, verdict: String?, score: String?, source: String) throws(LabelError) -> EditorLabel {
        guard let name = name?.trimmingCharacters(in: .whitespaces), !name.isEmpty else {
            throw LabelError("\(source): 'name' is missing")
        }
        guard let text = verdict?.trimmingCharacters(in: .whitespaces).lowercased(), let verdict = Verdict(rawValue: text) else {
            throw LabelError("\(source): 'verdict' must be ship or skip, found '\(verdict ?? "")'")
        }
        var number: Double?
        if let score = score?.trimmingCharacters(in: .whitespaces), !score.isEmpty {
            guard let value = Double(score), value.isFinite, (0...100).contains(value) else {
                throw LabelError("\(source): 'score' must be a number from 0 to 100, found '\(score)'")
            }
            number = value
        }
        return EditorLabel(name: name, verdict: verdict, score: number, source: source)
    }

    static func parseCSV(_ text: String, source: String) throws(LabelError) -> [EditorLabel] {
        let rows = csvRows(text)
        guard let header = rows.first?.fields.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) else {
            throw LabelError("\(source): is empty; the first line names the columns: name,verdict[,score]")
        }
        guard let nameColumn = header.firstIndex(of: "name"), let verdictColumn = header.firstIndex(of: "verdict") else {
            throw LabelError("\(source): line 1 must name the columns 'name' and 'verdict' (and optionally 'score'), found \(header)")
        }
        let scoreColumn = header.firstIndex(of: "score")
        var labels: [EditorLabel] = []
        for row in rows.dropFirst() where !row.fields.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            func field(_ index: Int?) -> String? { index.flatMap { $0 < row.fields.count ? row.fields[$0] : nil } }
            labels.append(
                try label(
                    name: field(nameColumn), verdict: field(verdictColumn), score: field(scoreColumn), source: "\(source):\(row.line)"))
        }
        return labels
    }

    /// RFC 4180 rows: fields split at commas, quoted fields may hold commas, quotes ("") and line breaks.
    static func csvRows(_ text: String) -> [(line: Int, fields: [String])] {
        var rows: [(Int, [String])] = []
        var fields: [String] = []
        var field = ""
        var quoted = false
        var line = 1
        var rowLine = 1
        var characters = Array(text.replacingOccurrences(of: "\r\n", with: "\n"))[...]
        if characters.first == "\u{FEFF}" { characters = characters.dropFirst() }
        var index = characters.startIndex
        while index < characters.endIndex {
            let character = characters[index]
            if quoted {
                if character == "\"" {
                    if index + 1 < characters.endIndex, characters[index + 1] == "\"" {
                        field.append("\"")
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    if character == "\n" { line += 1 }
                    field.append(character)
                }
            } else if character == "\"" && field.isEmpty {
                quoted = true
            } else if character == "," {
                fields.append(field)
                field = ""
            } else if character == "\n" {
                fields.append(field)
                rows.append((rowLine, fields))
                fields = []
                field = ""
                line += 1
                rowLine = line
            } else {
                field.append(character)
            }
            index += 1
        }
        if !field.isEmpty || !fields.isEmpty {
            fields.append(field)
            rows.append((rowLine, fields))
        }
        return rows
    }

    static func parseYAML(_ text: String, source: String) throws(LabelError) -> [EditorLabel] {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw LabelError("\(source): is not valid YAML (\(String(describing: error).split(separator: "\n").first ?? ""))")
        }
        var list = node?.sequence.map(Array.init)
        if list == nil, let mapping = node?.mapping, let labels = mapping["labels"]?.sequence { list = Array(labels) }
        guard let list else { throw LabelError("\(source): must be a list of {name, verdict, score} (or labels: holding one)") }
        return try list.enumerated().map { index, item throws(LabelError) in
            let at = "\(source): item \(index + 1)\(item.mark.map { " (line \($0.line))" } ?? "")"
            guard let mapping = item.mapping else { throw LabelError("\(at): must be a mapping {name, verdict, score}") }
            return try label(
                name: mapping["name"]?.string, verdict: mapping["verdict"]?.string, score: mapping["score"]?.string, source: at)
        }
    }
}
