import ArgumentParser
import Foundation
import PanelRuntime

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Re-render a saved panel.document/v1 JSON document, without calling any model.",
        discussion: """
            Editors tweak templates, then re-render:
              panel review a.yaml b.yaml --replay fixtures/recordings --format json -o doc.json
              panel render doc.json --format html -o doc.html --templates my-templates/

            Other schema versions are rejected with a message. Exit codes: 0 rendered; 2 unreadable input, \
            wrong schema or bad templates; 1 the output cannot be written.
            """
    )

    @Argument(help: ArgumentHelp("A panel.document/v1 JSON file ('-' for stdin).", valueName: "DOC.json"))
    var document: String

    @Option(help: "Output format.")
    var format: OutputFormat = .markdown

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write to FILE instead of stdout.", valueName: "FILE"))
    var output: String?

    @Option(help: ArgumentHelp("A directory of document templates overriding the built-in ones.", valueName: "DIR"))
    var templates: String?

    @Option(help: ArgumentHelp("Add calibrated scores beside the raw ones, from a map panel calibrate wrote.", valueName: "FILE"))
    var calibration: String?

    func run() throws {
        let log = Diagnostics(verbose: false, quiet: false)
        let data: Data
        if document == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: document) else {
                log.error("\(document): cannot be read (does it exist?)")
                throw PanelExit.usage
            }
            data = contents
        }
        var parsed: ReviewDocument
        let documentTemplates: DocumentTemplates
        do {
            parsed = try JSONDocumentRenderer.decode(data, source: document)
            try PanelRuntime.calibration(calibration)?.apply(to: &parsed)
            documentTemplates = try PanelRuntime.templates(templates)
        } catch {
            log.error("\(error)")
            throw PanelExit.usage
        }
        let text = format.documentFormat.render(parsed, templates: documentTemplates)
        try log.writeDocument(text, to: output)
    }
}
