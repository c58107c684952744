import Foundation
import ModelBackends
import PanelEngine
import PanelKit

// Fuzzing harnesses for the parsers that read untrusted bytes: model answers, listings, JSON, SSE and
// NDJSON streams, the configuration and templates. Each checks what must hold for any input (no trap;
// a parsed answer's score in 0…100; canonical JSON reads back to the same value) — a violation is a
// crash libFuzzer keeps.
//
// Built normally, `panel-fuzz TARGET FILE...` replays inputs (crashes found become regression tests);
// built with `-sanitize=fuzzer,address -DFUZZING` (scripts/fuzz.sh), it is a libFuzzer binary and the
// target comes from PANEL_FUZZ_TARGET.

enum FuzzTarget: String, CaseIterable {
    case parser, listing, json, sse, ndjson, config, template
}

let templateContext: TemplateValue = [
    "title": "A & <B>", "is_comparison": true,
    "tools": [["name": "Acme", "verdict": "ship", "paragraphs": ["one", "two"]], ["name": "Globex", "verdict": "skip"]],
    "personas": [["name": "Builder", "reviews": [["score": 78, "text": "ok"]]]], "footer": ["calls": 8],
]

func fuzzOne(_ target: FuzzTarget, _ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    switch target {
    case .parser:
        if case .success(let review) = ReviewParser.parse(text) {
            precondition((0...100).contains(review.score), "a parsed score outside 0…100: \(review.score)")
            precondition(!review.text.isEmpty, "an answer with an empty paragraph")
            precondition(text.utf8.contains { (0x30...0x39).contains($0) }, "a score from text without a digit")
        }
    case .listing:
        _ = try? ListingLoader.parseYAML(text, source: "fuzz.yaml")
        _ = try? ListingLoader.parseMarkdown(text, source: "fuzz.md")
        _ = try? ListingLoader.parseJSON(text, source: "fuzz.json")
        _ = try? ListingLoader.parse(text, source: "standard input")
    case .json:
        if let value = JSONValue.parse(text) {
            let canonical = value.canonicalText()
            // Canonical text is a fixed point: read back and written again, it is the same bytes. (Values
            // need not be equal: `5.0` reads as a double and is written `5`, which reads as an integer;
            // and `-0` reads as the integer 0 — the same number.)
            let again = JSONValue.parse(canonical)?.canonicalText()
            precondition(
                again == canonical || again == canonical.replacingOccurrences(of: "-0", with: "0"), "canonical JSON is not a fixed point")
        }
    case .sse:
        // Fed in two pieces split at every length the input gives, as a network would.
        var parser = SSEParser()
        let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        _ = parser.feed(bytes[..<cut])
        _ = parser.feed(bytes[cut...])
        _ = parser.finish()
    case .ndjson:
        var splitter = NDJSONSplitter()
        let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        _ = splitter.feed(bytes[..<cut])
        _ = splitter.feed(bytes[cut...])
        _ = splitter.finish()
    case .config:
        _ = try? PanelConfiguration.parse(text, source: "fuzz.yaml")
    case .template:
        for escaping in [TemplateEscaping.html, .markdown] {
            if let template = try? Template(text, escaping: escaping) { _ = template.render(templateContext) }
        }
    }
}

#if FUZZING
let fuzzTarget: FuzzTarget = {
    guard let name = ProcessInfo.processInfo.environment["PANEL_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(
            Data("set PANEL_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzOne(fuzzTarget, Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// libFuzzer's driver, entered from the executable's main (SwiftPM links an executable target's main
/// under the target's name).
@_silgen_name("LLVMFuzzerRunDriver")
func llvmFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("panel_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return llvmFuzzerRunDriver(&count, &arguments) { data, size in fuzzerTestOneInput(data, size) }
}
#else
@main
struct FuzzReplay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: panel-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE...")
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): cannot be read")
                exit(2)
            }
            fuzzOne(target, Array(data))
            print("\(path): ok")
        }
    }
}
#endif
