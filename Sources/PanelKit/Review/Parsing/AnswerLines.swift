import ModelBackends

/// The line-by-line reading of an answer's prose: labelled fields, score-and-verdict lines, tables,
/// and what is left for the paragraph.
enum AnswerLines {
    /// A line of prose kept for the paragraph.
    typealias Kept = [Substring]

    /// Reads field lines into `findings`; returns the lines (or parts of lines) that are prose.
    static func scan(_ text: String, into findings: inout AnswerFindings) -> Kept {
        var kept: Kept = []
        var pendingLabel: AnswerGrammar.LabelKind?
        var tableHeader: [AnswerGrammar.LabelKind?]?
        var tableHasNamedRows = false
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            let trimmed = Substring(line.trimmedWhitespace())
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") { continue }
            if trimmed.isEmpty {
                kept.append("")
                continue
            }
            if trimmed.hasPrefix("|") {
                let cells = tableCells(trimmed)
                if cells.allSatisfy({ !$0.isEmpty && $0.allSatisfy { "-:= ".contains($0) } }) { continue }
                let nextCells = index + 1 < lines.count ? tableCells(Substring(lines[index + 1].trimmedWhitespace())) : []
                let nextIsSeparator = !nextCells.isEmpty && nextCells.allSatisfy { !$0.isEmpty && $0.allSatisfy { "-: ".contains($0) } }
                readTableRow(cells, header: &tableHeader, namedRows: &tableHasNamedRows, isHeader: nextIsSeparator, into: &findings)
                continue
            }
            tableHeader = nil
            let tokens = AnswerToken.tokenize(trimmed)
            if tokens.isEmpty { continue }  // `---`, `***`: decoration only
            if let label = pendingLabel {
                pendingLabel = nil
                if read(label, tokens: tokens, at: 0, hasSeparator: true, into: &findings) != nil { continue }
            }
            if let label = AnswerGrammar.label(in: tokens, at: 0), label.valueStart >= tokens.count {
                if label.kind != .paragraph { pendingLabel = label.kind }
                continue  // `**Score**`, `### Verdict:`, `Rationale:` on a line of their own
            }
            let matches = readFields(tokens, into: &findings)
            kept.append(contentsOf: prose(of: trimmed, tokens: tokens, matches: matches))
        }
        return kept
    }

    /// Reads a labelled value at `start`; returns where it ends.
    @discardableResult
    static func read(
        _ kind: AnswerGrammar.LabelKind, tokens: [AnswerToken], at start: Int, hasSeparator: Bool, into findings: inout AnswerFindings
    ) -> Int? {
        switch kind {
        case .score:
            // Without a separator (`Score 81.`, `the score is 78`), the value must end its segment:
            // `the score is 95% exceptional` is prose.
            if let score = AnswerGrammar.score(in: tokens, at: start), hasSeparator || AnswerGrammar.isSegmentEnd(tokens, score.end) {
                findings.scores.append(score.reading)
                return score.end
            }
            // `Score: N/A`, `Grade: B+`: a score field that is not a number.
            if hasSeparator, start < tokens.count {
                let end = segmentEnd(tokens, from: start)
                findings.scores.append(.notANumber(text(of: tokens, start..<end)))
                return end
            }
            return nil
        case .verdict, .yesNoVerdict:
            if let verdict = AnswerGrammar.verdictValue(in: tokens, at: start, yesNo: kind == .yesNoVerdict),
                hasSeparator || AnswerGrammar.isSegmentEnd(tokens, verdict.end)
            {
                if AnswerFindings.offersBoth(tokens, after: verdict.end) {
                    findings.verdicts.append(.unclear(text(of: tokens, start..<segmentEnd(tokens, from: start))))
                    return segmentEnd(tokens, from: start)
                }
                findings.verdicts.append(.value(verdict.verdict))
                return verdict.end
            }
            if hasSeparator, start < tokens.count, kind == .verdict {
                let end = segmentEnd(tokens, from: start)
                findings.verdicts.append(.unclear(text(of: tokens, start..<end)))
                return end
            }
            return nil
        case .paragraph:
            return nil
        }
    }

    /// The fields of one line, as token ranges: labelled values, and unlabelled score/verdict segments.
    static func readFields(_ tokens: [AnswerToken], into findings: inout AnswerFindings) -> [Range<Int>] {
        var matches: [Range<Int>] = []
        var i = 0
        while i < tokens.count {
            let atStart = AnswerGrammar.isSegmentStart(tokens, i) || matches.last?.upperBound == i
            guard atStart else {
                i += 1
                continue
            }
            if let label = AnswerGrammar.label(in: tokens, at: i), label.kind != .paragraph,
                let end = read(label.kind, tokens: tokens, at: label.valueStart, hasSeparator: label.hasSeparator, into: &findings)
            {
                matches.append(i..<end)
                i = end
                continue
            }
            if let score = AnswerGrammar.score(in: tokens, at: i) {
                let next = skipSeparators(tokens, from: score.end)
                if let verdict = AnswerGrammar.verdict(in: tokens, at: next), AnswerGrammar.isSegmentEnd(tokens, verdict.end) {
                    // `78/100 · ship`, `82 — ship it`
                    findings.scores.append(score.reading)
                    findings.verdicts.append(.value(verdict.verdict))
                    matches.append(i..<verdict.end)
                    i = verdict.end
                    continue
                }
                let alone = i == 0 && score.end == tokens.count
                if AnswerGrammar.isSegmentEnd(tokens, score.end),
                    alone || score.isBracketed || (score.scale != nil && score.text.contains(where: { $0 == "/" || $0 == " " }))
                {
                    // `**78/100**`, `[[8]]`, `… it holds. 81/100.`
                    findings.scores.append(score.reading)
                    matches.append(i..<score.end)
                    i = score.end
                    continue
                }
            }
            if let verdict = AnswerGrammar.verdict(in: tokens, at: i) {
                if AnswerGrammar.isSegmentEnd(tokens, verdict.end) {
                    // `Ship it.`, `✅ SHIP`, `Skip (72/100)`
                    findings.verdicts.append(.value(verdict.verdict))
                    matches.append(i..<verdict.end)
                    i = verdict.end
                    continue
                }
                let next = skipSeparators(tokens, from: verdict.end)
                if let score = AnswerGrammar.score(in: tokens, at: next), AnswerGrammar.isSegmentEnd(tokens, score.end) {
                    // `❌ 35/100`, `Ship 82/100`
                    findings.verdicts.append(.value(verdict.verdict))
                    findings.scores.append(score.reading)
                    matches.append(i..<score.end)
                    i = score.end
                    continue
                }
            }
            i += 1
        }
        return matches
    }

    static func skipSeparators(_ tokens: [AnswerToken], from start: Int) -> Int {
        var i = start
        while i < tokens.count, i - start < 4 {
            if let symbol = tokens[i].symbol, AnswerGrammar.boundarySymbols.contains(symbol) {
                i += 1
            } else if tokens[i].isWord(AnswerGrammar.pairFillers) {
                i += 1
            } else {
                break
            }
        }
        return i
    }

    static func segmentEnd(_ tokens: [AnswerToken], from start: Int) -> Int {
        var i = start
        while i < tokens.count {
            if let symbol = tokens[i].symbol, ["|", ";", "·", "•", "(", ")"].contains(symbol) { break }
            if let symbol = tokens[i].symbol, [".", "!", ","].contains(symbol), i > start { break }
            i += 1
        }
        return i
    }

    static func text(of tokens: [AnswerToken], _ range: Range<Int>) -> String {
        guard !range.isEmpty else { return "" }
        return String(
            tokens[range].map { token -> String in
                switch token.kind {
                case .word(let word): return word
                case .number(_, let text): return text
                case .symbol(let symbol): return String(symbol)
                case .mark(let verdict): return verdict.rawValue
                }
            }.joined(separator: " ").prefix(40))
    }

    /// The prose of a line with its field matches cut: a run of fields at the start or end goes, one in
    /// the middle of a sentence stays.
    static func prose(of line: Substring, tokens: [AnswerToken], matches: [Range<Int>]) -> Kept {
        guard !matches.isEmpty else { return [line] }
        func isFiller(_ token: AnswerToken) -> Bool {
            if token.symbol != nil { return true }
            if case .mark = token.kind { return true }
            return token.isWord(AnswerGrammar.lineFillers)
        }
        var covered = [Bool](repeating: false, count: tokens.count)
        for match in matches { for i in match { covered[i] = true } }
        var first = 0
        while first < tokens.count, covered[first] || isFiller(tokens[first]) { first += 1 }
        var last = tokens.count
        while last > first, covered[last - 1] || isFiller(tokens[last - 1]) { last -= 1 }
        guard first < last else { return [] }
        // Keep the sentence's own punctuation at the end (`… it holds.`).
        var end = tokens[last - 1].range.upperBound
        if last < tokens.count, let symbol = tokens[last].symbol, [".", "!", "?"].contains(symbol),
            !covered[last]
        {
            end = tokens[last].range.upperBound
        }
        return [line[tokens[first].range.lowerBound..<end]]
    }

    // MARK: tables

    static func tableCells(_ row: Substring) -> [Substring] {
        var cells = row.split(separator: "|", omittingEmptySubsequences: false).map { Substring($0.trimmedWhitespace()) }
        if cells.first?.isEmpty == true { cells.removeFirst() }
        if cells.last?.isEmpty == true { cells.removeLast() }
        return cells
    }

    /// `| Score | 78 |` rows, and a header (`| Score | Verdict |`) whose columns name the fields of the
    /// rows below. A table of criteria (`| Criterion | Score |`) gives only its overall row.
    static func readTableRow(
        _ cells: [Substring], header: inout [AnswerGrammar.LabelKind?]?, namedRows: inout Bool, isHeader: Bool,
        into findings: inout AnswerFindings
    ) {
        let kinds = cells.map { cell -> AnswerGrammar.LabelKind? in
            let tokens = AnswerToken.tokenize(cell)
            if tokens.count == 1, tokens[0].isWord(AnswerGrammar.paragraphLabels) { return .paragraph }
            guard let label = AnswerGrammar.label(in: tokens, at: 0), label.valueStart >= tokens.count else { return nil }
            return label.kind
        }
        let isKeyValue = cells.count == 2 && kinds[0] != nil && kinds[1] == nil
        if isHeader && !isKeyValue {
            // `| Field | Value |` names no field: its rows are read as key-value rows.
            header = kinds.contains { $0 != nil } ? kinds : nil
            namedRows = kinds.first.map { $0 == nil } ?? false
            return
        }
        if let header, !isKeyValue {
            let firstTokens = AnswerToken.tokenize(cells.first ?? "")
            if namedRows, !(firstTokens.first?.isWord(AnswerGrammar.overallRows) ?? false) { return }
            for (column, kind) in header.enumerated() where column < cells.count {
                guard let kind else { continue }
                record(kind, cell: cells[column], into: &findings)
            }
            return
        }
        if cells.count >= 2, let kind = kinds[0] { record(kind, cell: cells[1], into: &findings) }
    }

    static func record(_ kind: AnswerGrammar.LabelKind, cell: Substring, into findings: inout AnswerFindings) {
        switch kind {
        case .paragraph:
            let text = cell.trimmedWhitespace()
            if findings.paragraph == nil, !text.isEmpty {
                findings.paragraph = text
                findings.tagParagraph = true
            }
        default:
            let tokens = AnswerToken.tokenize(cell)
            read(kind, tokens: tokens, at: 0, hasSeparator: true, into: &findings)
        }
    }

    // MARK: sentences

    static let ratingVerbs: Set<String> = [
        "give", "gave", "giving", "rate", "rated", "rating", "score", "scored", "scoring", "award", "grade", "grading", "mark", "lands",
    ]
    static let subjects: Set<String> = ["i", "i'd", "i'll", "i'm", "we", "we'd", "we'll", "my", "our"]
    static let verdictFillers: Set<String> = [
        "would", "will", "should", "still", "definitely", "probably", "happily", "cautiously", "reluctantly", "lean", "leaning",
        "toward", "towards", "to", "vote", "say", "call", "is", "verdict", "am", "going", "recommend", "recommendation", "i",
    ]
    static let fillersAndNegations = verdictFillers.union(AnswerGrammar.negations)
    static let verdictFollowers: Set<String> = ["it", "this", "that", "today", "now", "for", "but", "though", "as", "here"]

    /// Scores and verdicts said in sentences: `I'd give it 66 out of 100`, `a solid 7/10`, `I would
    /// ship it`, `my verdict is skip`. Only for a field that no labelled form gave.
    static func readSentences(_ kept: Kept, into findings: inout AnswerFindings) {
        let wantScore = findings.scores.isEmpty
        let wantVerdict = findings.verdicts.isEmpty
        for line in kept where !line.isEmpty {
            let tokens = AnswerToken.tokenize(line)
            for i in tokens.indices {
                if wantScore, let score = AnswerGrammar.score(in: tokens, at: i), case .value(let value) = score.reading {
                    let rated = tokens[max(0, i - 4)..<i].contains { $0.isWord(ratingVerbs) }
                    let written = score.text.contains("/") || score.text.contains(" out of ")
                    if score.isBracketed || written && (score.scale == 100 || rated) {
                        findings.sentenceScores.append(value)
                    }
                }
                if wantVerdict, (tokens[i].word == "ship" || tokens[i].word == "skip"), i + 1 < tokens.count, tokens[i + 1].word == "it",
                    AnswerGrammar.isSegmentEnd(tokens, i + 2),
                    i == 0 || tokens[i - 1].isWord(AnswerGrammar.conjunctions) || AnswerGrammar.isSegmentStart(tokens, i),
                    !(i > 0 && tokens[i - 1].isWord(AnswerGrammar.negations))
                {
                    // `… and ship it.`
                    findings.sentenceVerdicts.append(tokens[i].word == "ship" ? .ship : .skip)
                }
                if wantVerdict, tokens[i].isWord(subjects) {
                    var j = i + 1
                    var negated = false
                    while j < tokens.count, j - i <= 5, tokens[j].isWord(fillersAndNegations) {
                        if tokens[j].isWord(AnswerGrammar.negations) { negated = true }
                        j += 1
                    }
                    guard j < tokens.count, let word = tokens[j].word,
                        word == "ship" || word == "skip" || word == "shipping" || word == "skipping"
                    else { continue }
                    let follower = j + 1 < tokens.count ? tokens[j + 1] : nil
                    guard follower.map({ $0.symbol != nil || $0.isWord(verdictFollowers) }) ?? true else { continue }
                    let said: Verdict = word.hasPrefix("ship") ? .ship : .skip
                    if negated {
                        if said == .ship { findings.sentenceVerdicts.append(.skip) }
                    } else {
                        findings.sentenceVerdicts.append(said)
                    }
                }
            }
        }
    }

    // MARK: paragraph

    static let preambles = ["sure", "certainly", "okay", "ok", "here's", "here is", "below is", "absolutely", "of course", "great"]

    /// The kept prose as one paragraph: no preamble (`Here is my review:`), no leading label
    /// (`**Rationale:**`), no leading heading, blank lines collapsed.
    static func paragraph(from kept: Kept) -> String {
        var lines = Array(kept)
        func dropBlankEdges() {
            while lines.first?.isEmpty == true { lines.removeFirst() }
            while lines.last?.isEmpty == true { lines.removeLast() }
        }
        dropBlankEdges()
        while let first = lines.first, lines.count > 1, isPreamble(first) {
            lines.removeFirst()
            dropBlankEdges()
        }
        var out: [Substring] = []
        for line in lines {
            if line.isEmpty, out.last?.isEmpty == true { continue }
            out.append(line)
        }
        return clean(out.joined(separator: "\n"))
    }

    static func isPreamble(_ line: Substring) -> Bool {
        if line.hasPrefix("#") { return true }
        guard line.count <= 120 else { return false }
        let lowered = line.lowercased().drop { $0 == "*" || $0 == "_" }
        if lowered.hasSuffix(":") || lowered.hasSuffix(":**") { return true }
        return preambles.contains { lowered.hasPrefix($0) } && (lowered.hasSuffix(".") || lowered.hasSuffix("!") || lowered.hasSuffix(":"))
            && lowered.contains(where: { $0 == "!" || $0 == ":" || $0 == "." })
            && ["review", "assessment", "take", "answer", "evaluation", "verdict", "analysis", "here"].contains { lowered.contains($0) }
    }

    /// Trims a paragraph and drops a leading label such as `**Rationale:**`.
    static func clean(_ text: String) -> String {
        let trimmed = text.trimmedWhitespace()
        var rest = Substring(trimmed).drop { $0 == "*" || $0 == "_" || $0 == "#" || $0 == " " }
        let lowered = rest.prefix(14).lowercased()
        guard let label = AnswerGrammar.paragraphLabels.sorted(by: { $0.count > $1.count }).first(where: { lowered.hasPrefix($0) })
        else { return trimmed }
        rest = rest.dropFirst(label.count).drop { $0 == "*" || $0 == "_" || $0 == " " }
        guard let separator = rest.first, [":", "-", "–", "—"].contains(separator) else { return trimmed }
        rest = rest.dropFirst().drop { $0 == "*" || $0 == "_" || $0 == " " }
        return rest.trimmedWhitespace()
    }
}
