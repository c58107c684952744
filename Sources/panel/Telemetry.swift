import Foundation
import Logging
import OTel
import PanelRuntime
import ServiceLifecycle

/// Traces, off unless the standard OpenTelemetry variables ask for them: `OTEL_EXPORTER_OTLP_ENDPOINT`
/// (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) sends spans over OTLP/HTTP (protobuf), `OTEL_TRACES_EXPORTER`
/// picks the exporter (`otlp`, the one swift-otel has for traces; `none` keeps them off), `OTEL_SERVICE_NAME` names the process
/// (else `panel-<command>`), `OTEL_RESOURCE_ATTRIBUTES` adds to it (`host.name=w2`). Logs and metrics
/// stay where they are (stderr, `/metrics`): only traces go out.
enum Telemetry {
    /// Whether the environment asks for traces.
    static func requested(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        if environment["OTEL_SDK_DISABLED"]?.lowercased() == "true" { return false }
        if let exporter = environment["OTEL_TRACES_EXPORTER"] { return exporter.lowercased() != "none" }
        return environment["OTEL_EXPORTER_OTLP_ENDPOINT"] != nil || environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] != nil
    }

    /// Bootstraps the tracer when asked; the returned service exports spans while it runs and sends
    /// what is left when it is shut down gracefully. Nil when traces are off.
    static func start(command: String, log: Diagnostics) -> (any Service)? {
        guard requested() else { return nil }
        let exporter = ProcessInfo.processInfo.environment["OTEL_TRACES_EXPORTER"]?.lowercased() ?? "otlp"
        guard exporter == "otlp" else {
            log.error("OTEL_TRACES_EXPORTER=\(exporter): panel sends traces over otlp only (OTLP/HTTP); traces are off")
            return nil
        }
        var configuration = OTel.Configuration.default
        configuration.serviceName = "panel-\(command)"
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        // Each process's spans leave within half a second: a short command's trace is complete when it exits.
        configuration.traces.batchSpanProcessor.scheduleDelay = .milliseconds(500)
        configuration.diagnosticLogLevel = .warning
        do {
            let service = try OTel.bootstrap(configuration: configuration)
            Traces.enable()
            return service
        } catch {
            log.error("traces are off: \(error)")
            return nil
        }
    }

    /// The current span's ids for a log line (`trace_id=… span_id=…`), empty when nothing is traced.
    static var logSuffix: String {
        guard Traces.isOn else { return "" }
        let metadata = provider.get()
        guard !metadata.isEmpty else { return "" }
        return " " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// swift-log metadata carrying the current span's trace and span ids (for a handler: when
    /// ``start(command:log:)`` turned traces on).
    static let provider = OTel.makeLoggingMetadataProvider()

    /// Runs `body` with the exporter beside it (when traces are on), then stops the exporter, sending
    /// the spans still waiting. (Each claimed item is a span of its own, in the trace it was enqueued in.)
    static func exporting<T: Sendable>(command: String, log: Diagnostics, _ body: () async throws -> T) async throws -> T {
        guard let exporter = start(command: command, log: log) else { return try await body() }
        let group = ServiceGroup(configuration: .init(services: [.init(service: exporter)], logger: Logger(label: "panel-otel")))
        let running = Task { try await group.run() }
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        await group.triggerGracefulShutdown()
        _ = await running.result
        return try result.get()
    }
}
