import Foundation
import ModelBackends
import ModelRouter
import PanelKit
import Yams

/// Reads `panel.yaml` nodes strictly: known keys only, typed values, paths in every message.
struct ConfigurationReader {
    let source: String

    func fail(_ path: String?, _ problem: String) -> ConfigurationError {
        ConfigurationError(file: source, path: path, problem: problem)
    }

    func mapping(_ node: Node, _ path: String, allowed: [String]) throws(ConfigurationError) -> [String: Node] {
        guard let mapping = node.mapping else { throw fail(path.isEmpty ? nil : path, "must be a mapping of keys") }
        var result: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.scalar?.string else { throw fail(path, "has a key that is not text") }
            let keyPath = path.isEmpty ? name : "\(path).\(name)"
            guard allowed.contains(name) else {
                let suggestion = Suggestion.nearest(name, in: allowed)
                throw fail(
                    keyPath,
                    "unknown key" + (suggestion.map { "; did you mean '\($0)'?" } ?? "; known keys: \(allowed.joined(separator: ", "))"))
            }
            result[name] = value
        }
        return result
    }

    func string(_ node: Node?, _ path: String) throws(ConfigurationError) -> String? {
        guard let node else { return nil }
        guard let scalar = node.scalar else { throw fail(path, "must be text") }
        let value = scalar.string.trimmingCharacters(in: .whitespaces)
        if scalar.style == .plain && ["", "~", "null"].contains(value) { return nil }
        return value
    }

    func required(_ node: Node?, _ path: String) throws(ConfigurationError) -> String {
        guard let value = try string(node, path), !value.isEmpty else { throw fail(path, "is required") }
        return value
    }

    func number(_ node: Node?, _ path: String) throws(ConfigurationError) -> Double? {
        guard let text = try string(node, path) else { return nil }
        guard let value = Double(text), value.isFinite else { throw fail(path, "must be a number, found '\(text)'") }
        return value
    }

    func integer(_ node: Node?, _ path: String, min: Int = 0) throws(ConfigurationError) -> Int? {
        guard let text = try string(node, path) else { return nil }
        guard let value = Int(text), value >= min else { throw fail(path, "must be a whole number of at least \(min), found '\(text)'") }
        return value
    }

    func bool(_ node: Node?, _ path: String) throws(ConfigurationError) -> Bool? {
        guard let text = try string(node, path) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw fail(path, "must be true or false, found '\(text)'")
        }
    }

    /// Keys every backend may have; each kind adds its own (``BackendKind/optionKeys``).
    static let backendKeys = [
        "name", "kind", "base_url", "model", "api_key_env", "price", "max_concurrency", "timeout_s", "structured_output", "max_attempts",
        "quality", "family", "local", "context_window", "latency_ms", "token_limit_field", "drop_params", "rate_limit",
    ]

    func read(_ root: Node) throws(ConfigurationError) -> PanelConfiguration {
        let top = try mapping(root, "", allowed: ["backends", "panel", "router", "team", "publication"])
        guard let backendsNode = top["backends"], let list = backendsNode.sequence, !list.isEmpty else {
            throw fail("backends", "is required: a list of backends (name, kind, model, …)")
        }
        var backends: [BackendConfiguration] = []
        for (index, node) in list.enumerated() {
            let backend = try readBackend(node, "backends[\(index)]")
            if backends.contains(where: { $0.name == backend.name }) {
                throw fail("backends[\(index)].name", "'\(backend.name)' is used by another backend; names must be unique")
            }
            backends.append(backend)
        }
        if let index = backends.firstIndex(where: { $0.name == PanelConfiguration.routerName }) {
            throw fail("backends[\(index)].name", "'router' is reserved for the model router; choose another name")
        }
        let router = try top["router"].map { node throws(ConfigurationError) in try readRouter(node, "router") } ?? RoutingConstraints()
        var routerSeed: UInt64 = 1
        if let seedNode = top["router"]?.mapping?["seed"], let seed = try integer(seedNode, "router.seed") { routerSeed = UInt64(seed) }
        let panel =
            try top["panel"].map { node throws(ConfigurationError) in
                try mapping(
                    node, "panel",
                    allowed: ["backend", "personas", "quorum", "samples", "temperature", "max_tokens", "cache_ttl_s", "claims"])
            } ?? [:]
        let known = backends.map(\.name) + [PanelConfiguration.routerName]
        let defaultBackend =
            try string(panel["backend"], "panel.backend") ?? (top["router"] != nil ? PanelConfiguration.routerName : backends[0].name)
        guard known.contains(defaultBackend) else {
            throw fail(
                "panel.backend", "no backend is named '\(defaultBackend)'; configured: \(backends.map(\.name).joined(separator: ", "))")
        }
        var personaBackends: [String: String] = [:]
        var personaRouters: [String: RoutingConstraints] = [:]
        if let personas = panel["personas"] {
            let entries = try mapping(personas, "panel.personas", allowed: (personas.mapping?.keys.compactMap { $0.scalar?.string }) ?? [])
            for (persona, node) in entries {
                let path = "panel.personas.\(persona)"
                let settings = try mapping(node, path, allowed: ["backend", "router"])
                if let routerNode = settings["router"] {
                    personaRouters[persona] = try readRouter(routerNode, "\(path).router", base: router)
                }
                let name =
                    try string(settings["backend"], "\(path).backend")
                    ?? (settings["router"] != nil ? PanelConfiguration.routerName : defaultBackend)
                guard known.contains(name) else {
                    throw fail(
                        "\(path).backend", "no backend is named '\(name)'; configured: \(backends.map(\.name).joined(separator: ", "))")
                }
                personaBackends[persona] = name
            }
        }
        let cacheTTL = try number(panel["cache_ttl_s"], "panel.cache_ttl_s")
        if let cacheTTL, !(0...31_536_000).contains(cacheTTL) {
            throw fail("panel.cache_ttl_s", "must be a number of seconds from 0 to 31536000 (a year)")
        }
        let temperature = try number(panel["temperature"], "panel.temperature")
        if let temperature, !(0...2).contains(temperature) { throw fail("panel.temperature", "must be between 0 and 2") }
        var configuration = PanelConfiguration(
            backends: backends, defaultBackend: defaultBackend, personaBackends: personaBackends,
            quorum: try integer(panel["quorum"], "panel.quorum", min: 1), temperature: temperature,
            maxTokens: try integer(panel["max_tokens"], "panel.max_tokens", min: 1),
            cacheTTL: cacheTTL.flatMap { CheckedNumber.duration(seconds: $0) }, source: source, router: router,
            personaRouters: personaRouters, routerSeed: routerSeed, samples: try samples(panel["samples"]))
        if let claimsNode = panel["claims"] {
            let claims = try mapping(claimsNode, "panel.claims", allowed: ["check", "backend"])
            let check = try string(claims["check"], "panel.claims.check") ?? "rules"
            switch check {
            case "rules":
                if claims["backend"] != nil {
                    throw fail("panel.claims.backend", "is for the model check: set panel.claims.check: model, or remove it")
                }
            case "model":
                let name = try string(claims["backend"], "panel.claims.backend") ?? defaultBackend
                guard known.contains(name) else {
                    throw fail(
                        "panel.claims.backend", "no backend is named '\(name)'; configured: \(backends.map(\.name).joined(separator: ", "))"
                    )
                }
                configuration.claimCheckBackend = name
            default:
                throw fail("panel.claims.check", "must be rules or model, found '\(check)'")
            }
        }
        if personaBackends[PanelConfiguration.claimCheckID] != nil {
            throw fail(
                "panel.personas.\(PanelConfiguration.claimCheckID)",
                "'\(PanelConfiguration.claimCheckID)' is reserved for the model check of claims")
        }
        if let publicationNode = top["publication"] {
            let publication = try mapping(publicationNode, "publication", allowed: ["name", "url"])
            if let name = try string(publication["name"], "publication.name") {
                guard !name.trimmingCharacters(in: .whitespaces).isEmpty, name.count <= 200 else {
                    throw fail("publication.name", "must be a name of 1 to 200 characters")
                }
                configuration.publicationName = name
            }
            if let url = try string(publication["url"], "publication.url") {
                let lowered = url.lowercased()
                guard lowered.hasPrefix("https://") || lowered.hasPrefix("http://"), URL(string: url)?.host != nil else {
                    throw fail("publication.url", "must be an http(s) URL, found '\(url)'")
                }
                configuration.publicationURL = url.hasSuffix("/") ? String(url.dropLast()) : url
            }
        }
        if let teamNode = top["team"] {
            let team = try mapping(teamNode, "team", allowed: ["approve_contradicted"])
            if let text = try string(team["approve_contradicted"], "team.approve_contradicted") {
                guard let policy = PanelConfiguration.ContradictedApproval(rawValue: text) else {
                    throw fail("team.approve_contradicted", "must be confirm or refuse, found '\(text)'")
                }
                configuration.approveContradicted = policy
            }
        }
        return configuration
    }

    func samples(_ node: Node?) throws(ConfigurationError) -> Int? {
        guard let value = try integer(node, "panel.samples", min: 1) else { return nil }
        guard value <= ReviewSettings.maxSamples else {
            throw fail("panel.samples", "must be from 1 to \(ReviewSettings.maxSamples), found \(value)")
        }
        return value
    }

    func readBackend(_ node: Node, _ path: String) throws(ConfigurationError) -> BackendConfiguration {
        let kindText = try required(node.mapping?["kind"], "\(path).kind")
        guard let kind = BackendKind(rawValue: kindText.lowercased()) else {
            throw fail(
                "\(path).kind", "'\(kindText)' is not a backend kind; use \(BackendKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        // A key another kind has is named as such, rather than as a typo.
        for other in BackendKind.allCases where other != kind {
            for key in other.optionKeys where !kind.optionKeys.contains(key) {
                // A null value (`~`) means the key is not set.
                guard let value = node.mapping?[key], (try? string(value, "\(path).\(key)")) != nil else { continue }
                throw fail("\(path).\(key)", "is a setting of \(other.rawValue) backends, not of \(kind.rawValue) ones")
            }
        }
        let fields = try mapping(node, path, allowed: Self.backendKeys + BackendKind.allCases.flatMap(\.optionKeys))
        let name = try required(fields["name"], "\(path).name")
        var optionValues: [String: String] = [:]
        for key in kind.optionKeys { optionValues[key] = try string(fields[key], "\(path).\(key)") }
        let options: ProviderOptions
        do {
            options = try kind.options(from: optionValues)
        } catch {
            throw fail("\(path).\(error.key)", error.problem)
        }
        guard let baseURL = try string(fields["base_url"], "\(path).base_url") ?? kind.defaultBaseURL else {
            throw fail("\(path).base_url", "is required for \(kind.rawValue) backends (https://RESOURCE.openai.azure.com)")
        }
        let lowered = baseURL.lowercased()
        guard (lowered.hasPrefix("http://") || lowered.hasPrefix("https://")), URL(string: baseURL)?.host != nil else {
            throw fail("\(path).base_url", "must be an http(s) URL, found '\(BackendURL.redacted(baseURL))'")
        }
        if let env = try string(fields["api_key_env"], "\(path).api_key_env") {
            guard env.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) != nil else {
                throw fail("\(path).api_key_env", "must be the name of an environment variable (e.g. OPENAI_API_KEY), not a key")
            }
        }
        var price: Price?
        if let priceNode = fields["price"] {
            let p = try mapping(priceNode, "\(path).price", allowed: ["input_per_mtok", "output_per_mtok"])
            guard let input = try number(p["input_per_mtok"], "\(path).price.input_per_mtok"),
                let output = try number(p["output_per_mtok"], "\(path).price.output_per_mtok"),
                (0...Price.maxPerMTok).contains(input), (0...Price.maxPerMTok).contains(output)
            else {
                throw fail(
                    "\(path).price", "needs input_per_mtok and output_per_mtok, USD per million tokens, from 0 to \(Int(Price.maxPerMTok))")
            }
            price = Price(inputPerMTok: input, outputPerMTok: output)
        }
        let modeText = try string(fields["structured_output"], "\(path).structured_output") ?? "auto"
        guard let mode = StructuredOutputMode(rawValue: modeText) else {
            throw fail(
                "\(path).structured_output", "must be one of \(StructuredOutputMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let timeoutSeconds = try number(fields["timeout_s"], "\(path).timeout_s") ?? 120
        guard timeoutSeconds > 0, let timeout = CheckedNumber.duration(seconds: timeoutSeconds, max: 86_400) else {
            throw fail("\(path).timeout_s", "must be a positive number of seconds, at most 86400 (a day)")
        }
        let measured = fields["quality"]?.scalar?.string.lowercased() == "measured"
        let quality = measured ? nil : try integer(fields["quality"], "\(path).quality", min: 1)
        if let quality, quality > 5 { throw fail("\(path).quality", "must be 1 to 5, or measured (from panel eval --save)") }
        var deployment: String?
        if case .azure(let azure) = options { deployment = azure.deployment }
        guard let model = try string(fields["model"], "\(path).model") ?? deployment else {
            throw fail("\(path).model", "is required (the model name; for Azure, the deployment's model)")
        }
        var tokenLimitField: TokenLimitField?
        if let text = try string(fields["token_limit_field"], "\(path).token_limit_field") {
            guard kind == .openai || kind == .azure else {
                throw fail("\(path).token_limit_field", "applies to kinds openai and azure only (\(kind.rawValue) has its own name)")
            }
            guard let field = TokenLimitField(rawValue: text) else {
                throw fail("\(path).token_limit_field", "must be max_tokens or max_completion_tokens, found '\(text)'")
            }
            tokenLimitField = field
        }
        var dropParams: Set<DroppableParameter> = []
        if let list = fields["drop_params"] {
            guard kind == .openai || kind == .azure else {
                throw fail(
                    "\(path).drop_params",
                    "applies to kinds openai and azure only (anthropic never gets a temperature; gemini and ollama take one)")
            }
            guard let items = list.sequence else { throw fail("\(path).drop_params", "must be a list, e.g. [temperature]") }
            for (index, item) in items.enumerated() {
                let text = try required(item, "\(path).drop_params[\(index)]")
                guard let parameter = DroppableParameter(rawValue: text) else {
                    throw fail(
                        "\(path).drop_params[\(index)]",
                        "unknown parameter '\(text)'; use \(DroppableParameter.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                dropParams.insert(parameter)
            }
        }
        var rateLimit: RateLimit?
        if let node = fields["rate_limit"] {
            let limits = try mapping(node, "\(path).rate_limit", allowed: ["rpm", "tpm"])
            let rpm = try integer(limits["rpm"], "\(path).rate_limit.rpm", min: 1)
            let tpm = try integer(limits["tpm"], "\(path).rate_limit.tpm", min: 1)
            guard rpm != nil || tpm != nil else {
                throw fail("\(path).rate_limit", "needs rpm (requests per minute), tpm (tokens per minute) or both")
            }
            rateLimit = RateLimit(requestsPerMinute: rpm, tokensPerMinute: tpm)
        }
        var configuration = BackendConfiguration(
            name: name, kind: kind, baseURL: baseURL, model: model,
            apiKeyEnv: try string(fields["api_key_env"], "\(path).api_key_env"), price: price,
            maxConcurrency: try integer(fields["max_concurrency"], "\(path).max_concurrency", min: 1) ?? 8,
            timeout: timeout, structuredOutput: mode,
            retry: RetryPolicy(maxAttempts: try integer(fields["max_attempts"], "\(path).max_attempts", min: 1) ?? 4),
            options: options, tokenLimitField: tokenLimitField, dropParams: dropParams, quality: quality,
            family: try string(fields["family"], "\(path).family"),
            declaredLocal: try bool(fields["local"], "\(path).local"),
            contextWindow: try integer(fields["context_window"], "\(path).context_window", min: 1),
            declaredLatencyMS: try integer(fields["latency_ms"], "\(path).latency_ms", min: 0))
        configuration.rateLimit = rateLimit
        configuration.qualityMeasured = measured
        return configuration
    }

    static let routerKeys = [
        "objective", "weights", "max_cost_usd", "max_latency_ms", "min_quality", "require", "local_only", "diversity", "hedge",
        "exploration_share", "max_recovery_wait_s", "seed",
    ]

    /// The `router:` section (or a persona's override, starting from the panel's).
    func readRouter(
        _ node: Node, _ path: String, base: RoutingConstraints = RoutingConstraints()
    ) throws(ConfigurationError) -> RoutingConstraints {
        let fields = try mapping(node, path, allowed: Self.routerKeys)
        var constraints = base
        if let objective = try string(fields["objective"], "\(path).objective") {
            switch objective {
            case "cheapest": constraints.objective = .cheapest
            case "fastest": constraints.objective = .fastest
            case "best": constraints.objective = .best
            case "balanced":
                var weights = (cost: 1.0, latency: 1.0, quality: 1.0)
                if let node = fields["weights"] {
                    let w = try mapping(node, "\(path).weights", allowed: ["cost", "latency", "quality"])
                    weights = (
                        try number(w["cost"], "\(path).weights.cost") ?? 1, try number(w["latency"], "\(path).weights.latency") ?? 1,
                        try number(w["quality"], "\(path).weights.quality") ?? 1
                    )
                }
                constraints.objective = .balanced(cost: weights.cost, latency: weights.latency, quality: weights.quality)
            default: throw fail("\(path).objective", "must be cheapest, fastest, best or balanced, found '\(objective)'")
            }
        }
        if let cost = try number(fields["max_cost_usd"], "\(path).max_cost_usd") {
            guard cost >= 0 else { throw fail("\(path).max_cost_usd", "must be 0 or more") }
            constraints.maxCostUSD = cost
        }
        if let latency = try integer(fields["max_latency_ms"], "\(path).max_latency_ms", min: 1) { constraints.maxLatencyMS = latency }
        if let quality = try integer(fields["min_quality"], "\(path).min_quality", min: 1) { constraints.minQuality = quality }
        if let list = fields["require"] {
            guard let items = list.sequence else { throw fail("\(path).require", "must be a list, e.g. [json_schema]") }
            var capabilities: Set<RoutingConstraints.Capability> = []
            for (index, item) in items.enumerated() {
                let name = try required(item, "\(path).require[\(index)]")
                guard let capability = RoutingConstraints.Capability(rawValue: name) else {
                    throw fail(
                        "\(path).require[\(index)]",
                        "unknown capability '\(name)'; use \(RoutingConstraints.Capability.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                capabilities.insert(capability)
            }
            constraints.require = capabilities
        }
        if let local = try bool(fields["local_only"], "\(path).local_only") { constraints.localOnly = local }
        if let diversity = try string(fields["diversity"], "\(path).diversity") {
            guard ["families", "none"].contains(diversity) else { throw fail("\(path).diversity", "must be families or none") }
            constraints.diverseFamilies = diversity == "families"
        }
        if let hedgeNode = fields["hedge"] {
            let h = try mapping(hedgeNode, "\(path).hedge", allowed: ["after", "max_extra_share"])
            var hedge = RoutingConstraints.Hedge()
            if let after = try string(h["after"], "\(path).hedge.after") {
                switch after {
                case "p90": hedge.trigger = .p90
                case "p95": hedge.trigger = .p95
                default:
                    guard let ms = Int(after.replacingOccurrences(of: "ms", with: "")), (0...600_000).contains(ms) else {
                        throw fail("\(path).hedge.after", "must be p90, p95 or a delay like 1500ms")
                    }
                    hedge.trigger = .after(.milliseconds(ms))
                }
            }
            if let share = try number(h["max_extra_share"], "\(path).hedge.max_extra_share") {
                guard (0...1).contains(share) else { throw fail("\(path).hedge.max_extra_share", "must be between 0 and 1") }
                hedge.maxExtraShare = share
            }
            constraints.hedge = hedge
        }
        if let share = try number(fields["exploration_share"], "\(path).exploration_share") {
            guard (0...1).contains(share) else { throw fail("\(path).exploration_share", "must be between 0 and 1") }
            constraints.explorationShare = share
        }
        if let wait = try number(fields["max_recovery_wait_s"], "\(path).max_recovery_wait_s") {
            guard let duration = CheckedNumber.duration(seconds: wait, max: 3600) else {
                throw fail("\(path).max_recovery_wait_s", "must be a number of seconds from 0 to 3600")
            }
            constraints.maxRecoveryWait = duration
        }
        return constraints
    }
}
