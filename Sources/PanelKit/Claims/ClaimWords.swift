/// The vocabulary of the claim rules, in one place.
enum Words {
    static let magnitudes: [String: Double] = [
        "k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9, "t": 1e12,
        "trillion": 1e12,
    ]
    /// Scale words inside "per …": "per million tokens", "/M tokens", "per 1K requests".
    static let perMagnitudes: [String: Double] = ["k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "billion": 1e9]
    static let perQualifiers: Set<String> = [
        "input", "output", "prompt", "completion", "audio", "active", "additional", "extra", "of", "and", "or", "cached", "text",
    ]
    static let perUnits: [String: String] = [
        "token": "token", "tokens": "token", "tok": "token", "mtok": "token", "ktok": "token",
        "month": "month", "months": "month", "mo": "month", "year": "year", "years": "year", "yr": "year", "annum": "year",
        "seat": "seat", "seats": "seat", "user": "seat", "users": "seat", "member": "seat", "members": "seat", "editor": "seat",
        "editors": "seat", "developer": "seat", "developers": "seat", "person": "seat",
        "minute": "minute", "minutes": "minute", "min": "minute", "hour": "hour", "hours": "hour", "hr": "hour",
        "second": "second", "sec": "second", "day": "day", "week": "week",
        "request": "request", "requests": "request", "call": "request", "calls": "request", "query": "request",
        "queries": "request", "run": "request", "runs": "request", "execution": "request", "executions": "request",
        "gb": "GB", "image": "image", "images": "image", "character": "character", "characters": "character",
    ]
    /// "$10 monthly".
    static let periodAdverbs: [String: String] = [
        "monthly": "month", "yearly": "year", "annually": "year", "hourly": "hour", "daily": "day", "weekly": "week",
    ]
    static let currencySymbols: [String: String] = ["$": "USD", "€": "EUR", "£": "GBP"]
    static let currencyWords: [String: String] = [
        "usd": "USD", "dollars": "USD", "dollar": "USD", "eur": "EUR", "euro": "EUR", "euros": "EUR", "gbp": "GBP", "pounds": "GBP",
    ]
    static let durations: [String: Double] = [
        "ms": 1e-3, "msec": 1e-3, "msecs": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3, "s": 1, "sec": 1, "secs": 1,
        "second": 1, "seconds": 1, "µs": 1e-6, "μs": 1e-6, "us": 1e-6, "microsecond": 1e-6, "microseconds": 1e-6, "min": 60,
        "mins": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600, "day": 86400,
        "days": 86400,
    ]
    static let bytes: [String: Double] = [
        "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 1024, "mib": 1_048_576, "gib": 1_073_741_824,
        "tib": 1_099_511_627_776, "kilobyte": 1e3, "kilobytes": 1e3, "megabyte": 1e6, "megabytes": 1e6, "gigabyte": 1e9,
        "gigabytes": 1e9, "terabyte": 1e12, "terabytes": 1e12, "byte": 1, "bytes": 1,
    ]
    /// Words before "a minute", "an hour" that make it a figure ("under a minute", "within an hour").
    static let beforeOne: Set<String> = ["under", "within", "in", "than", "about", "around", "roughly", "over", "below", "takes", "take"]
    /// Words after a figure that make it an upper bound: "the 20 ms ceiling", "2 GB or less".
    static let upperAfter: Set<String> = ["ceiling", "cap", "maximum", "max", "limit", "less"]
    static let parameterWords: Set<String> = ["parameter", "parameters", "params", "param"]
    static let tokenWords: Set<String> = ["token", "tokens", "tok", "toks"]
    static let contextWords: Set<String> = ["context", "ctx"]
    static let comparatives: Set<String> = [
        "faster", "cheaper", "more", "less", "smaller", "larger", "bigger", "higher", "lower", "quicker", "slower", "as", "better",
        "fewer", "greater", "longer", "shorter",
    ]
    static let numbers: [String: Double] = [
        "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twice": 2,
    ]
    static let licenceNouns: Set<String> = ["license", "licence", "licensed", "licenced", "licenses", "licences"]
    static let freeNouns: Set<String> = ["tier", "plan", "version", "edition", "forever"]
    static let months: Set<String> = [
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
        "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    ]
    /// Words that are not a product's name before a version.
    static let stop: Set<String> = [
        "the", "a", "an", "its", "their", "to", "of", "in", "on", "at", "for", "with", "and", "or", "is", "was", "from", "since",
        "as", "by", "new", "latest", "current", "this", "that",
    ]
    /// What a figure is about, from a word near it.
    static let qualifiers: [String: String] = {
        var map: [String: String] = [:]
        func add(_ category: String, _ words: [String]) { for word in words { map[word] = category } }
        add(
            "latency",
            [
                "latency", "latencies", "ttft", "response", "responses", "respond", "responds", "roundtrip", "delay", "lag", "query",
                "queries",
            ])
        add("context", ["context", "window", "ctx"])
        add("input", ["input", "prompt"])
        add("output", ["output", "completion", "completions", "generated", "generation"])
        add("memory", ["memory", "ram", "vram", "gpu", "gpus"])
        add("storage", ["disk", "download", "storage", "file", "files"])
        add("uptime", ["uptime", "sla", "availability"])
        add("accuracy", ["accuracy", "accurate", "benchmark", "benchmarks"])
        add("cost", ["cheaper", "cost", "costs", "discount", "savings", "saving", "expensive", "spend", "spending"])
        add("setup", ["setup", "install", "installation", "onboarding"])
        add("speed", ["faster", "speed", "throughput", "quicker", "slower", "speedup"])
        add(
            "launch",
            ["founded", "launched", "launch", "released", "release", "since", "introduced", "debuted", "shipped", "announced", "ga"])
        return map
    }()
}
