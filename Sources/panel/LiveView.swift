import Foundation
import PanelRuntime
import Synchronization

/// The live terminal view of a review: one line per persona × tool on stderr — waiting, streaming
/// (tokens so far), `78/100 · ship` (backend, seconds) or abstained (reason) — redrawn in place at
/// most ten times a second, then left as the final summary. Only used when stderr is a terminal.
final class LiveView: Sendable {
    enum Status: Sendable {
        case waiting
        case asking(since: ContinuousClock.Instant)
        case streaming(tokens: Int, since: ContinuousClock.Instant)
        case repairing
        case done(PersonaResult)
    }

    private struct State {
        var rows: [String: Status] = [:]
        var drawnLines = 0
        var dirty = true
    }

    private let log: Diagnostics
    private let keys: [(persona: String, listing: String)]
    private let state = Mutex(State())
    private let width: Int

    init(log: Diagnostics, personas: [Persona], listings: [Listing]) {
        self.log = log
        var keys: [(String, String)] = []
        for listing in listings { for persona in personas { keys.append((persona.id, listing.name)) } }
        self.keys = keys
        var size = winsize()
        width = ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 20 ? Int(size.ws_col) : 100
    }

    /// True when a live view fits the terminal.
    static func usable(lines: Int, quiet: Bool) -> Bool {
        guard !quiet, isatty(STDERR_FILENO) == 1, ProcessInfo.processInfo.environment["TERM"] != "dumb" else { return false }
        var size = winsize()
        let rows = ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 ? Int(size.ws_row) : 24
        return lines + 2 < max(rows, 10)
    }

    func handle(_ event: EngineEvent) {
        state.withLock { state in
            switch event {
            case .started(let persona, let listing):
                state.rows[key(persona.id, listing.name)] = .asking(since: .now)
            case .delta(let persona, let listing, let text):
                let k = key(persona.id, listing.name)
                switch state.rows[k] {
                case .streaming(let tokens, let since)?:
                    state.rows[k] = .streaming(tokens: tokens + max(1, text.utf8.count / 4), since: since)
                case .asking(let since)?: state.rows[k] = .streaming(tokens: max(1, text.utf8.count / 4), since: since)
                default: state.rows[k] = .streaming(tokens: max(1, text.utf8.count / 4), since: .now)
                }
            case .restarted(let persona, let listing):
                // The text streamed so far was abandoned: count again from what replaces it.
                if case .streaming(_, let since)? = state.rows[key(persona.id, listing.name)] {
                    state.rows[key(persona.id, listing.name)] = .asking(since: since)
                }
            case .repairing(let persona, let listing, _):
                state.rows[key(persona.id, listing.name)] = .repairing
            case .finished(let result, let listing):
                state.rows[key(result.persona.id, listing.name)] = .done(result)
            case .listingFinished, .spend, .problem:
                return
            }
            state.dirty = true
        }
    }

    /// Redraws until cancelled, throttled; then draws the final state once more.
    func run() async {
        while !Task.isCancelled {
            redraw()
            try? await Task.sleep(for: .milliseconds(100))
        }
        redraw(force: true)
    }

    private func key(_ persona: String, _ listing: String) -> String { persona + "\u{1F}" + listing }

    private func redraw(force: Bool = false) {
        let output: String? = state.withLock { state in
            guard state.dirty || force else { return nil }
            state.dirty = false
            var text = state.drawnLines > 0 ? "\u{1B}[\(state.drawnLines)A" : ""
            for (persona, listing) in keys {
                text += "\u{1B}[2K" + line(persona, listing, state.rows[key(persona, listing)] ?? .waiting) + "\n"
            }
            state.drawnLines = keys.count
            return text
        }
        if let output { try? FileHandle.standardError.write(contentsOf: Data(output.utf8)) }
    }

    private func line(_ persona: String, _ listing: String, _ status: Status) -> String {
        let who = TerminalText.safe("\(persona) · \(listing)")
        let detail: String
        switch status {
        case .waiting: detail = log.paint("waiting", .dim)
        case .asking(let since): detail = log.paint("asking… \(seconds(since))", .dim)
        case .streaming(let tokens, let since): detail = "streaming ~\(tokens) tokens \(seconds(since))"
        case .repairing: detail = log.paint("unreadable answer; asking once more…", .yellow)
        case .done(let result):
            switch result.outcome {
            case .answered(let review):
                let via = [result.backend, result.latencyMS.map { String(format: "%.1f s", Double($0) / 1000) }].compactMap { $0 }
                    .map { TerminalText.safe($0) }
                var text =
                    log.paint("✓ \(review.score)/100 · \(review.verdict.rawValue)", .green) + " (" + via.joined(separator: ", ") + ")"
                if !result.flags.isEmpty { text += " [" + result.flags.joined(separator: ", ") + "]" }
                detail = text
            case .abstained(let reason):
                detail = log.paint("✗ abstained — \(TerminalText.safe(reason))", .red)
            }
        }
        let plain = "  \(who): "
        return String((plain + detail).prefix(width - 1 + (detail.count - visibleCount(detail))))
    }

    private func visibleCount(_ text: String) -> Int {
        text.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression).count
    }

    private func seconds(_ since: ContinuousClock.Instant) -> String {
        String(format: "%.1f s", (ContinuousClock.now - since).seconds)
    }
}
