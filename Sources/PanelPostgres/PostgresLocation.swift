public import Foundation

/// A `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…]` store URL, read the way libpq reads it:
/// the password from the URL, else `PGPASSWORD`, else `~/.pgpass` (`PGPASSFILE`); `sslmode` disable,
/// prefer (the default), require or verify-full. The password never reaches a message: ``redacted``.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var sslMode: SSLMode

    /// True for a string that names a PostgreSQL store rather than a SQLite file.
    public static func isURL(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://")
    }

    /// Reads a store URL; `environment` supplies `PGPASSWORD`, `PGPASSFILE`, `HOME`.
    public init(url text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(PostgresStoreError) {
        let shown = Self.redact(text)
        guard Self.isURL(text), let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
            throw PostgresStoreError(
                location: shown, problem: "is not a store URL; write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        guard let user = components.user.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw PostgresStoreError(location: shown, problem: "names no user; write postgres://USER@HOST/DATABASE")
        }
        let database = String(components.path.drop { $0 == "/" }).removingPercentEncoding ?? ""
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresStoreError(location: shown, problem: "names no database; write postgres://USER@HOST[:PORT]/DATABASE")
        }
        self.user = user
        self.host = host
        self.port = components.port ?? 5432
        self.database = database
        var mode = SSLMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let parsed = SSLMode(rawValue: value) else {
                    throw PostgresStoreError(
                        location: shown, problem: "sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                mode = parsed
            case "application_name", "connect_timeout": continue
            default:
                throw PostgresStoreError(location: shown, problem: "unknown parameter '\(item.name)' (panel reads sslmode)")
            }
        }
        self.sslMode = mode
        self.password =
            components.password?.removingPercentEncoding
            ?? environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
            ?? Self.passwordFile(environment: environment, host: host, port: port, database: database, user: user)
    }

    /// `host:port:database:user:password` lines, `*` matching anything, first match wins (libpq's rules).
    static func passwordFile(environment: [String: String], host: String, port: Int, database: String, user: String) -> String? {
        let path = environment["PGPASSFILE"] ?? environment["HOME"].map { $0 + "/.pgpass" }
        guard let path, let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            var fields: [String] = []
            var current = ""
            var escaped = false
            for character in line {
                if escaped {
                    current.append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == ":" && fields.count < 4 {
                    fields.append(current)
                    current = ""
                } else {
                    current.append(character)
                }
            }
            fields.append(current)
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// The URL without its password, for every message.
    public var redacted: String { "postgres://\(user)@\(host):\(port)/\(database)" }
    public var description: String { redacted }

    /// Any text with the password of a `scheme://user:password@` URL masked.
    public static func redact(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") else { return text }
        let credentials = text[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }
}

/// A PostgreSQL store that cannot be used: which (redacted) URL and why, and what to do.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible {
    public var location: String
    public var problem: String
    /// The server could not be reached or was restarting (refused, closed, "starting up", "shutting
    /// down"): asking again later may succeed, unlike a wrong password or a missing database.
    public var transient: Bool
    public init(location: String, problem: String, transient: Bool = false) {
        self.location = location
        self.problem = problem
        self.transient = transient
    }
    public var description: String { "\(location): \(problem)" }
}
