import Foundation
import PanelEngine
import PanelKit
import Testing

/// Batch inputs read in constant memory and linear time, whatever a file holds.
struct BatchInputsTests {
    func rows(_ path: String) -> [(key: String, name: String?, error: String?)] {
        BatchInputs(paths: [path]).map { row in
            switch row.listing {
            case .success(let listing): return (row.key, listing.name, nil)
            case .failure(let error): return (row.key, nil, error.description)
            }
        }
    }

    @Test func linesAreNumberedAndTheLastNeedsNoNewline() throws {
        let workspace = try Workspace()
        let lines = (1...1000).map { #"{"name": "Tool \#($0)", "description": "d"}"# }
        let path = try workspace.write("in.jsonl", lines.joined(separator: "\n"))
        let read = rows(path)
        #expect(read.count == 1000)
        #expect(read.first?.key == path + ":1" && read.last?.key == path + ":1000" && read.last?.name == "Tool 1000")
        #expect(BatchInputs(paths: [path]).rowCount() == 1000)
    }

    /// A row longer than a listing may be (10 MB here) is a failed row naming its line; the rows around
    /// it are read as usual.
    @Test func anOversizedRowFailsAlone() throws {
        let workspace = try Workspace()
        let huge = #"{"name": "Huge", "description": ""# + String(repeating: "x", count: 10_000_000) + #""}"#
        let path = try workspace.write(
            "in.jsonl", [#"{"name": "A", "description": "d"}"#, huge, #"{"name": "B", "description": "d"}"#].joined(separator: "\n") + "\n")
        let read = rows(path)
        #expect(read.map(\.name) == ["A", nil, "B"])
        #expect(read[1].key == path + ":2" && read[1].error?.contains("longer than") == true)
    }

    /// A file with no line end at all (what `/dev/zero` is) is not read for ever: one failed row, then the
    /// end.
    @Test func aFileWithoutLineEndsEnds() throws {
        let workspace = try Workspace()
        let path = workspace.file("zeros.jsonl")
        _ = FileManager.default.createFile(atPath: path, contents: Data(count: 64 * ListingLoader.maxBytes + 2_000_000))
        let read = rows(path)
        #expect(read.count == 1 && read[0].name == nil)
    }

    /// Rows that most readers accept silently are reported: a key given twice (which one would count?),
    /// bytes that are not UTF-8 (they were replaced without a word), and a syntax error says where.
    @Test func ambiguousOrMalformedRowsSayWhatAndWhere() throws {
        let workspace = try Workspace()
        let path = workspace.file("in.jsonl")
        var bytes = Array(#"{"name": "A", "name": "B", "description": "d"}"#.utf8) + [0x0A]
        bytes += Array(#"{"name": "Caf"#.utf8) + [0xE9] + Array(#"", "description": "d"}"#.utf8) + [0x0A]
        bytes += Array(#"{"name": "C", "description": }"#.utf8) + [0x0A]
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let read = rows(path)
        #expect(read.map(\.name) == [nil, nil, nil])
        #expect(read[0].error?.contains("the key 'name' appears twice") == true, "\(read[0])")
        #expect(read[1].error?.contains("not UTF-8") == true, "\(read[1])")
        #expect(read[2].error?.contains("is not valid JSON (at line 1, column 30)") == true, "\(read[2])")
    }

    @Test func anOversizedListingFileIsRefused() throws {
        let workspace = try Workspace()
        let path = try workspace.write(
            "big.yaml", "name: Big\ndescription: \"" + String(repeating: "y", count: ListingLoader.maxBytes) + "\"\n")
        #expect {
            try ListingLoader.load(path: path)
        } throws: { error in
            "\(error)".contains("big.yaml") && "\(error)".contains("KiB")
        }
    }
}

/// A summary row written field by field is its `Encodable` conformance's JSON, byte for byte.
struct BatchRowSummaryTests {
    @Test func aRowIsItsEncodableJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let items = [
            BatchItem(key: "line-1", name: nil, status: .pending, error: nil, documents: [], outcome: .init()),
            BatchItem(
                key: "line-2", name: "acme \"relay\"", status: .complete, error: "one persona abstained: timeout",
                documents: ["out/acme-relay.md", "out/acme-relay.json"],
                outcome: .init(verdict: "ship", shipShare: 0.75, scoreMedian: 71.5, costUSD: 0.000123, answered: 3)),
        ]
        for item in items {
            let row = BatchRowSummary(item)
            #expect(row.canonicalText == String(decoding: try encoder.encode(row), as: UTF8.self))
        }
    }
}
