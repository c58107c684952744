import Foundation
import Testing

@testable import PanelKit

/// A temporary directory for one test's files.
struct TemporaryDirectory: ~Copyable {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("panel-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    func write(_ name: String, _ text: String) throws -> String {
        let path = url.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func write(_ name: String, bytes: [UInt8]) throws -> String {
        let path = url.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

struct ListingLoaderTests {
    @Test func yaml() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write(
            "a.yaml",
            """
            name: 2048
            tagline: "Typed webhooks"
            entry: no
            best_for: Platform teams
            description: |
              Line one.
              Line two.
            """)
        let listing = try ListingLoader.load(path: path)
        #expect(listing.name == "2048")  // YAML scalars are the text written, not numbers or booleans
        #expect(listing.entry == "no")
        #expect(listing.bestFor == "Platform teams")
        #expect(listing.description == "Line one.\nLine two.")
        #expect(listing.community == nil)
        #expect(listing.source == path)
    }

    @Test func markdownBodyIsTheDescription() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write(
            "b.md", "---\r\nname: Globex Lens\r\ncategory: Observability\r\n---\r\n\r\nRecords API sessions.\r\n\r\nAnd replays them.\r\n")
        let listing = try ListingLoader.load(path: path)
        #expect(listing.name == "Globex Lens")
        #expect(listing.category == "Observability")
        #expect(listing.description == "Records API sessions.\n\nAnd replays them.")
    }

    @Test func json() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write(
            "c.json", #"{"name": "Acme", "description": "Does things.", "community": null, "url": "https://acme.example"}"#)
        let listing = try ListingLoader.load(path: path)
        #expect(listing.name == "Acme")
        #expect(listing.community == nil)
        #expect(listing.url == "https://acme.example")
    }

    static let errorCases: [(file: String, text: String, field: String?, problem: String)] = [
        ("noname.yaml", "tagline: x\ndescription: y\n", "name", "is missing"),
        ("emptyname.yaml", "name: \"  \"\ndescription: y\n", "name", "is empty"),
        ("nodesc.yaml", "name: x\n", "description", "is missing"),
        ("emptydesc.md", "---\nname: x\n---\n\n   \n", "description", "is missing"),
        ("listname.yaml", "name: [a, b]\ndescription: y\n", "name", "must be text, found a list"),
        ("mapdesc.yaml", "name: a\ndescription: {x: 1}\n", "description", "must be text, found a mapping"),
        ("number.json", #"{"name": 5, "description": "y"}"#, "name", "must be text"),
        ("badurl.yaml", "name: a\ndescription: b\nurl: javascript:alert(1)\n", "url", "must be an http(s) URL"),
        ("broken.json", "{\"name\": ", nil, "is not valid JSON"),
        ("broken.yaml", "name: [unclosed\ndescription: x\n", nil, "is not valid YAML"),
        ("list.yaml", "- a\n- b\n", nil, "must be a mapping"),
        ("nofront.md", "# Title\n\nbody\n", nil, "starts with YAML front matter"),
        ("unclosed.md", "---\nname: a\nbody\n", nil, "no closing '---'"),
        ("both.md", "---\nname: a\ndescription: b\n---\nbody\n", "description", "given both"),
        ("listing.txt", "name: a\n", nil, "unknown listing format"),
    ]

    @Test(arguments: errorCases)
    func errorsNameFileFieldAndProblem(_ errorCase: (file: String, text: String, field: String?, problem: String)) throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write(errorCase.file, errorCase.text)
        let error = try #require(throws: ListingError.self) { try ListingLoader.load(path: path) }
        #expect(error.file == path)
        #expect(error.field == errorCase.field)
        #expect(error.problem.contains(errorCase.problem), "\(error)")
        #expect(error.description.contains(errorCase.file))
    }

    @Test func unreadableAndNonUTF8Files() throws {
        let dir = try TemporaryDirectory()
        let missing = try #require(throws: ListingError.self) { try ListingLoader.load(path: dir.url.path + "/missing.yaml") }
        #expect(missing.problem == "no such file")
        let latin1 = try dir.write("latin1.yaml", bytes: Array("name: caf".utf8) + [0xE9] + Array("\ndescription: x\n".utf8))
        let error = try #require(throws: ListingError.self) { try ListingLoader.load(path: latin1) }
        #expect(error.problem.contains("not UTF-8"))
    }

    /// One rule for every listing format and batch row: an unknown key is named with the field it is
    /// nearest; a missing field names the key that is most likely it, misspelt.
    @Test func unknownKeysAreNamedWithADidYouMeanInEveryFormat() throws {
        let dir = try TemporaryDirectory()
        let yaml = try ListingLoader.load(path: try dir.write("typo.yaml", "name: a\ndescription: b\ndesciption: c\nwebsite: x\n"))
        #expect(yaml.unknownFields == ["'desciption' (did you mean 'description'?)", "'website'"])
        #expect(ListingLoader.unknownFieldsWarning(yaml)?.contains("typo.yaml: ignoring unknown field(s) 'desciption'") == true)
        let markdown = try ListingLoader.load(path: try dir.write("typo.md", "---\nname: a\ntaglin: t\n---\nBody.\n"))
        #expect(markdown.unknownFields == ["'taglin' (did you mean 'tagline'?)"])
        let json = try ListingLoader.parseJSON(#"{"name": "a", "description": "b", "pricng": "Free"}"#, source: "rows.jsonl:3")
        #expect(json.unknownFields == ["'pricng' (did you mean 'pricing'?)"])
        // The JSON Lines row with `descripton`: the error says which key was meant.
        let error = try #require(throws: ListingError.self) {
            try ListingLoader.parseJSON(#"{"name": "a", "descripton": "b"}"#, source: "rows.jsonl:4")
        }
        #expect(error.description.contains("'descripton' is not a listing field — did you mean 'description'?"), "\(error)")
        let yamlError = try #require(throws: ListingError.self) {
            try ListingLoader.parseYAML("nme: a\ndescription: b\n", source: "x.yaml")
        }
        #expect(yamlError.description.contains("did you mean 'name'?"))
        // Not part of the listing's JSON (what jobs keep).
        let encoded = String(decoding: try JSONEncoder().encode(json), as: UTF8.self)
        #expect(!encoded.contains("pricng") && !encoded.contains("unknown"))
    }

    @Test func bundledFixturesAllLoad() throws {
        let directory = packageRoot.appendingPathComponent("fixtures/listings")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(files.count >= 6)
        for file in files {
            let listing = try ListingLoader.load(path: directory.appendingPathComponent(file).path)
            #expect(!listing.name.isEmpty)
            #expect(listing.unknownFields.isEmpty)
        }
    }
}

/// The repository root, found from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A queued listing (its `Codable` JSON) read by the project's JSON reader: the same listing Foundation's
/// decoder makes, and nothing where Foundation's decoder refuses too.
struct EncodedListingTests {
    @Test func readsWhatTheEncoderWroteAsTheDecoderDoes() throws {
        var listings = [
            Listing(name: "Tool", description: "Does one thing.", source: "in.jsonl:1"),
            Listing(
                name: "Ünïcode \"quoted\" \\ name", description: "Line one\nline two\t— ✓ 🎉", tagline: "", category: "AI",
                pricing: "$5/mo", entry: "Free tier", bestFor: "teams", url: "https://example.com/a?b=c&d", community: "42 votes",
                source: "listings/tool.yaml"),
        ]
        // Each optional field alone, the others absent.
        for index in 0..<7 {
            var listing = Listing(name: "N\(index)", description: "D", source: "s")
            let text = "field \(index) </script>\u{1}"
            switch index {
            case 0: listing.tagline = text
            case 1: listing.category = text
            case 2: listing.pricing = text
            case 3: listing.entry = text
            case 4: listing.bestFor = text
            case 5: listing.url = text
            default: listing.community = text
            }
            listings.append(listing)
        }
        for listing in listings {
            let text = String(decoding: try JSONEncoder().encode(listing), as: UTF8.self)
            let decoded = try JSONDecoder().decode(Listing.self, from: Data(text.utf8))
            #expect(Listing(encoded: text) == decoded)
            #expect(Listing(encoded: text) == listing)
            // The project's writer writes what Foundation's encoder does (slashes left as they are).
            let foundation = JSONEncoder()
            foundation.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            #expect(listing.encoded == String(decoding: try foundation.encode(listing), as: UTF8.self))
            #expect(Listing(encoded: listing.encoded) == listing)
        }
        // Nulls read as absent, as the decoder reads them.
        let nulls = #"{"name":"N","description":"D","source":"s","tagline":null,"url":null}"#
        #expect(Listing(encoded: nulls) == Listing(name: "N", description: "D", source: "s"))
        #expect(try JSONDecoder().decode(Listing.self, from: Data(nulls.utf8)) == Listing(name: "N", description: "D", source: "s"))
    }

    @Test(arguments: [
        "", "not json", "[]", #"{"description":"D","source":"s"}"#, #"{"name":"N","source":"s"}"#, #"{"name":"N","description":"D"}"#,
        #"{"name":1,"description":"D","source":"s"}"#, #"{"name":"N","description":"D","source":"s","tagline":2}"#,
        #"{"name":"N","description":"D","source":"s","url":["u"]}"#, #"{"name":"N","description":"D","source":"s","community":{}}"#,
    ])
    func refusesWhatTheDecoderRefuses(text: String) {
        #expect(Listing(encoded: text) == nil)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(Listing.self, from: Data(text.utf8)) }
    }
}
