import Foundation
import PanelRuntime

/// Plain progress on stderr: a line per finished persona, then a summary. Never touches stdout.
struct ProgressLines: Sendable {
    let log: Diagnostics

    func handle(_ event: EngineEvent) {
        switch event {
        case .started(let persona, let listing):
            log.debug("→ \(persona.id) · \(TerminalText.safe(listing.name))")
        case .delta, .restarted, .listingFinished, .spend:
            break
        case .problem(let message):
            log.error(message)
        case .repairing(let persona, let listing, let reason):
            log.debug("↻ \(persona.id) · \(listing.name): unreadable answer (\(reason)); asking once more")
        case .finished(let result, let listing):
            let who = TerminalText.safe("\(result.persona.id) · \(listing.name)")
            let via = TerminalText.safe(
                [result.backend, result.model, result.latencyMS.map { String(format: "%.1f s", Double($0) / 1000) }]
                    .compactMap { $0 }.joined(separator: ", "))
            switch result.outcome {
            case .answered(let review):
                var line = log.paint("✓", .green) + " \(who): \(review.score)/100 · \(review.verdict.rawValue) (\(via))"
                if !result.flags.isEmpty { line += " [" + result.flags.joined(separator: ", ") + "]" }
                log.info(line)
            case .abstained(let reason):
                log.info(log.paint("✗", .red) + " \(who): abstained — \(TerminalText.safe(reason))")
            }
            if log.verbose, let trace = result.routing {
                log.debug("  routing: \(trace.rule) — pick \(trace.pick ?? "none"); constraints: \(trace.constraints)")
                for candidate in trace.candidates {
                    let verdict =
                        candidate.excludedBy.map { "excluded by \($0) (\(candidate.detail ?? ""))" } ?? "rank \(candidate.rank ?? 0)"
                    log.debug("    \(candidate.backend): \(verdict)")
                }
                log.debug(
                    "  attempts: "
                        + trace.attempts.map {
                            "\($0.backend) \($0.outcome)\($0.hedge ? " (hedge)" : "")\($0.errorClass.map { " \($0)" } ?? "")"
                        }.joined(separator: ", "))
            }
            if log.verbose {
                log.debug(
                    "  attempts \(result.attempts), tokens \(result.inputTokens.map(String.init) ?? "?") in / \(result.outputTokens.map(String.init) ?? "?") out, ttft \(result.ttftMS.map { "\($0) ms" } ?? "n/a")"
                )
            }
        }
    }

    func summary(_ document: ReviewDocument, output: String?) {
        for tool in document.tools {
            log.info(log.paint(TerminalText.safe(tool.name), .bold) + ": " + tool.panel.headline)
        }
        let answered = document.tools.flatMap(\.reviews).filter { $0.status == .answered }.count
        let total = document.tools.flatMap(\.reviews).count
        var line = "\(answered)/\(total) reviews answered in " + String(format: "%.1f s", Double(document.totals.wallMS) / 1000)
        if let output { line += "; wrote \(output)" }
        log.info(line)
    }
}

/// Runs `body`; SIGINT (Ctrl-C) cancels it, and with it every HTTP request in flight. Returns nil
/// when interrupted.
func withInterruptHandler<T: Sendable>(_ body: @escaping @Sendable () async -> T) async -> T? {
    let task = Task { await body() }
    let interrupted = OnceFlag()
    let watch = SignalWatch([SIGINT]) { _ in
        interrupted.set()
        task.cancel()
    }
    let value = await task.value
    watch.cancel()
    return interrupted.isSet ? nil : value
}
