import ArgumentParser
import Foundation
import PanelRuntime

/// `panel init`: a commented panel.yaml for the backend found here (or a template of every kind).
struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a commented panel.yaml for the backend found here (or a template with every kind).",
        discussion: """
            Looks for a backend the way a first run does — OPENAI_API_KEY (with OPENAI_BASE_URL), ANTHROPIC_API_KEY, \
            GEMINI_API_KEY, AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_API_KEY, then Ollama, llama.cpp or LM Studio on this \
            machine — and writes it as the active backend, with every other kind commented out. Keys are never \
            written: the file names the environment variable that holds each.

            Examples:
              panel init
              panel init --model gpt-4.1 --output team.yaml
              panel backends --check
            """
    )

    @Option(help: ArgumentHelp("Where to write.", valueName: "FILE"))
    var output = PanelConfiguration.fileName

    @Option(help: ArgumentHelp("The model of the detected backend (default: its usual one).", valueName: "NAME"))
    var model: String?

    @Flag(help: "Overwrite the file if it exists.")
    var force = false

    @Flag(help: "Do not detect: write the template (a local Ollama active, every other kind commented out).")
    var template = false

    func run() async throws {
        let log = Diagnostics(verbose: false, quiet: false)
        if !force, FileManager.default.fileExists(atPath: output) {
            log.error("\(output) exists; panel init does not overwrite it (use --force to replace it)")
            throw PanelExit.usage
        }
        var found: BackendDetection.Found?
        if !template {
            switch await BackendDetection(environment: ProcessInfo.processInfo.environment).detect(model: model) {
            case .success(let detected):
                found = detected
                log.info("detected backend '\(detected.backend.name)': \(detected.reason)")
            case .failure(let notFound):
                log.info(
                    "no backend detected (\(notFound.tried.count) places tried); writing the template: a local Ollama, every other kind commented out"
                )
            }
        }
        let text = ConfigurationTemplate.yaml(detected: found, version: PanelVersion.current)
        do {
            try AtomicFile.write(text, to: output)
        } catch {
            log.error("\(output): cannot be written (\(error))")
            throw PanelExit.nothingProduced
        }
        log.info(
            "wrote \(output); check it with: panel backends --check\(output == PanelConfiguration.fileName ? "" : " --config \(output)")")
    }
}
