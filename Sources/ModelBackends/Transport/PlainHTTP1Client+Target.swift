import NIOCore

extension PlainHTTP1Client {
    /// Where a plain-HTTP URL points.
    struct Target: Sendable, Hashable {
        var host: String
        var port: Int
        /// Path and query, as sent in the request line.
        var path: String
        /// The `Host` header.
        var authority: String
        /// The request line and fixed headers (``PlainHTTP1Client/requestPrefix(path:authority:)``).
        var requestPrefix: [UInt8]
        /// The address to connect to when the host is an IP address (`127.0.0.1`, `[::1]`): no resolver is
        /// asked. A name is resolved at each connect, as NIO does (its answers may change).
        var address: SocketAddress?

        /// `http://host[:port][/path][?query]`; nil for anything else (https, user info, fragments),
        /// which AsyncHTTPClient handles.
        init?(_ url: String) {
            let scheme = "http://"
            guard url.utf8.count > scheme.utf8.count, url.prefix(scheme.count).lowercased() == scheme else { return nil }
            let rest = url.dropFirst(scheme.count)
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            var path = String(rest[authorityEnd...])
            guard !authority.isEmpty, !authority.contains("@"), !path.contains("#") else { return nil }
            // A space or control character would break the request line or the `Host` header: such a URL
            // is left to AsyncHTTPClient, which refuses it.
            guard url.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { return nil }
            if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
            let host: Substring
            let portText: Substring?
            if authority.hasPrefix("[") {
                guard let close = authority.firstIndex(of: "]") else { return nil }
                host = authority[authority.index(after: authority.startIndex)..<close]
                let after = authority[authority.index(after: close)...]
                guard after.isEmpty || after.hasPrefix(":") else { return nil }
                portText = after.isEmpty ? nil : after.dropFirst()
            } else if let colon = authority.lastIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            } else {
                host = authority
                portText = nil
            }
            var port = 80
            if let portText {
                guard let value = Int(portText), (1...65535).contains(value) else { return nil }
                port = value
            }
            guard !host.isEmpty else { return nil }
            self.host = String(host)
            self.port = port
            self.path = path
            self.authority = String(authority)
            self.requestPrefix = PlainHTTP1Client.requestPrefix(path: path, authority: self.authority)
            self.address = try? SocketAddress(ipAddress: self.host, port: port)
        }

        var key: String { "\(host):\(port)" }
    }
}
