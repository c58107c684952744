import Foundation
import PanelRuntime

/// Writes diagnostics to stderr, never stdout (which carries documents). Colour only on a
/// terminal and only when NO_COLOR is unset.
struct Diagnostics: Sendable {
    let verbose: Bool
    let quiet: Bool
    let color: Bool

    init(verbose: Bool, quiet: Bool) {
        self.verbose = verbose
        self.quiet = quiet
        let environment = ProcessInfo.processInfo.environment
        self.color = isatty(STDERR_FILENO) == 1 && (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
    }

    enum Style: String {
        case red = "31"
        case green = "32"
        case yellow = "33"
        case dim = "2"
        case bold = "1"
    }

    func paint(_ text: String, _ style: Style) -> String {
        color ? "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m" : text
    }

    func write(_ line: String) {
        // A closed or full stderr loses the message, never the run.
        try? FileHandle.standardError.write(contentsOf: Data((line + "\n").utf8))
    }

    // Messages carry untrusted text (listing names, server errors, model names): every control
    // character is made visible before it reaches the terminal; only panel's own colours are painted.
    func error(_ message: String) { write(paint("error: ", .red) + TerminalText.safe(message, singleLine: false)) }
    func warning(_ message: String) { if !quiet { write(paint("warning: ", .yellow) + TerminalText.safe(message, singleLine: false)) } }
    /// A line composed by a view: its untrusted parts are made safe there (it may hold panel's colours).
    func info(_ message: String) { if !quiet { write(message) } }
    func debug(_ message: String) { if verbose { write(paint(TerminalText.safe(message, singleLine: false), .dim)) } }

    /// Writes a document to `output` atomically (a temporary file, then a rename), or to stdout.
    /// A failure is reported here and exits 1: nothing could be produced.
    func writeDocument(_ text: String, to output: String?) throws {
        do {
            if let output {
                try AtomicFile.write(text, to: output)
            } else {
                do {
                    try FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
                } catch {
                    throw ConfigurationError(
                        "standard output cannot be written (\(error.localizedDescription)); the document was not written")
                }
            }
        } catch {
            self.error("cannot write the document: \(error)")
            throw PanelExit.nothingProduced
        }
    }
}
