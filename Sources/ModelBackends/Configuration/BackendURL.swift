import Foundation

/// The one place URLs are joined and made safe to show: a base URL may carry a secret (a key in its
/// query, a password in its user info), and a path must go before its query, not after.
public enum BackendURL {
    /// `base` + `path`, the path joined before any query string and the queries of both kept:
    /// `http://h/v1?key=k` + `/chat/completions` → `http://h/v1/chat/completions?key=k`.
    public static func join(_ base: String, _ path: String) -> String {
        let (baseWithoutQuery, baseQuery) = split(base)
        let (pathWithoutQuery, pathQuery) = split(path)
        var joined = baseWithoutQuery
        while joined.hasSuffix("/") { joined.removeLast() }
        joined += pathWithoutQuery
        let query = [pathQuery, baseQuery].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "&")
        return query.isEmpty ? joined : joined + "?" + query
    }

    /// The URL with its user info and query values masked: for messages, listings and logs.
    public static func redacted(_ url: String) -> String {
        var (rest, query) = split(url)
        if let schemeEnd = rest.range(of: "://") {
            let authorityStart = schemeEnd.upperBound
            let authorityEnd = rest[authorityStart...].firstIndex(of: "/") ?? rest.endIndex
            if let at = rest[authorityStart..<authorityEnd].lastIndex(of: "@") {
                rest.replaceSubrange(authorityStart...at, with: "\(Redactor.mask)@")
            }
        }
        guard let query, !query.isEmpty else { return rest }
        let masked = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let equals = pair.firstIndex(of: "=") else { return String(pair) }
            return String(pair[..<equals]) + "=" + Redactor.mask
        }
        return rest + "?" + masked.joined(separator: "&")
    }

    /// The secrets a URL carries — its user info and its query values — for a ``Redactor``.
    public static func secrets(in url: String) -> [String] {
        let (rest, query) = split(url)
        var secrets: [String] = []
        if let schemeEnd = rest.range(of: "://") {
            let authority = rest[schemeEnd.upperBound...].prefix { $0 != "/" }
            if let at = authority.lastIndex(of: "@") {
                let userInfo = authority[..<at]
                secrets.append(String(userInfo))
                if let colon = userInfo.firstIndex(of: ":") { secrets.append(String(userInfo[userInfo.index(after: colon)...])) }
            }
        }
        for pair in (query ?? "").split(separator: "&") {
            if let equals = pair.firstIndex(of: "=") { secrets.append(String(pair[pair.index(after: equals)...])) }
        }
        return secrets.filter { !$0.isEmpty }
    }

    static func split(_ url: String) -> (String, String?) {
        guard let mark = url.firstIndex(of: "?") else { return (url, nil) }
        return (String(url[..<mark]), String(url[url.index(after: mark)...]))
    }
}
