import Foundation
public import Prometheus
import Synchronization

/// The server's Prometheus metrics, in a registry of its own (two servers in one test process never
/// mix figures): requests by route and status, reviews by outcome, persona calls by backend and
/// outcome, spend, latencies, open event streams. `GET /metrics` is this registry's text.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    static let requestBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]
    static let callBuckets: [Duration] = [
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5),
        .seconds(10), .seconds(20), .seconds(40), .seconds(80),
    ]

    let watchers: Gauge
    let spend: Counter

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "panel", metricName: metric, unitName: unit, helpText: help)
    }
    static var requests: MetricNameDescriptor { name("http_requests", "total", "HTTP requests by route and status") }
    static var requestDuration: MetricNameDescriptor { name("http_request_duration", "seconds", "HTTP request duration by route") }
    static var reviews: MetricNameDescriptor { name("reviews", "total", "Reviews by outcome (answered, some_abstained, failed)") }
    static var calls: MetricNameDescriptor { name("persona_calls", "total", "Persona calls by backend and outcome (answered, abstained)") }
    static var votes: MetricNameDescriptor {
        name("votes", "total", "Readers' votes by outcome (accepted, changed, refused) and reason (network_limit, closed, form_token, …)")
    }
    static var callDuration: MetricNameDescriptor { name("persona_call_duration", "seconds", "Persona call latency by backend") }

    public init() {
        watchers = registry.makeGauge(descriptor: Self.name("event_streams", "open", "Server-Sent Event streams open now"))
        spend = registry.makeCounter(descriptor: Self.name("spend_usd", "total", "Money spent on persona calls (USD)"))
    }

    func vote(_ outcome: String, reason: String = "") {
        registry.makeCounter(descriptor: Self.votes, labels: [("outcome", outcome), ("reason", reason)]).increment()
    }

    func request(method: String, route: String, status: Int, duration: Duration) {
        let labels = [("method", method), ("route", route), ("status", String(status))]
        registry.makeCounter(descriptor: Self.requests, labels: labels).increment()
        registry.makeDurationHistogram(
            descriptor: Self.requestDuration, labels: [("method", method), ("route", route)], buckets: Self.requestBuckets
        ).record(duration)
    }

    func review(outcome: String) {
        registry.makeCounter(descriptor: Self.reviews, labels: [("outcome", outcome)]).increment()
    }

    func personaCall(backend: String, outcome: String, latencyMS: Int?, costUSD: Double?) {
        registry.makeCounter(descriptor: Self.calls, labels: [("backend", backend), ("outcome", outcome)]).increment()
        if let latencyMS {
            registry.makeDurationHistogram(descriptor: Self.callDuration, labels: [("backend", backend)], buckets: Self.callBuckets)
                .record(.milliseconds(latencyMS))
        }
        if let costUSD, costUSD.isFinite, costUSD > 0 { spend.increment(by: costUSD) }
    }

    public func text() -> String { registry.emitToString() }

    func streamOpened() {
        watchers.increment()
        openStreams.add(1, ordering: .relaxed)
    }

    func streamClosed() {
        watchers.decrement()
        openStreams.subtract(1, ordering: .relaxed)
    }

    /// Event streams open now (the `panel_event_streams_open` gauge's value).
    public var streamsOpen: Int { openStreams.load(ordering: .relaxed) }
    let openStreams = Atomic<Int>(0)
}
