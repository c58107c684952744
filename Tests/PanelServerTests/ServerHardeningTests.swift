import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MockProvider
import ModelBackends
import PanelEngine
import PanelKit
import PanelServer
import PanelStore
import Testing

/// The faults found by attacking `panel serve`, each reproduced: CSRF through a non-canonical path or
/// from another origin, a sign-out that left the session alive, connections that starve the server,
/// event streams whose clients left.
@Suite(.timeLimit(.minutes(5)))
struct ServerHardeningTests {
    typealias Browser = ServerWebTests.Browser

    static let listing = #"{"listings": [{"name": "Ollama", "description": "Runs models locally."}]}"#

    func raw(
        _ method: String, _ path: String, cookies: [String: String], headers: [String: String] = [:], body: String = Self.listing
    )
        -> String
    {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        text += "Cookie: " + cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") + "\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        return text
    }

    @Test func aSessionCannotChangeAnythingThroughAnotherSpellingOfAPath() async throws {
        try await ServerHarness.with(mock: .latency(.seconds(600))) { server in
            defer { server.mock.stats.beginShutdown() }
            let browser = Browser(server)
            _ = try await browser.signIn(server.admin)
            let port = try #require(server.client.port)
            let variants = [
                "//v1/reviews", "//v1/batches", "//v1/tokens", "/./v1/reviews", "/v1/./reviews", "/v1//reviews", "/v1/reviews/",
                "/v1/../v1/reviews", "/v1/%2Freviews", "/v1%2Freviews", "/%2Fv1/reviews", "/v1/%2e/reviews", "/v1\\reviews", "///v1/tokens",
                "/V1/REVIEWS", "/v1/Reviews",
            ]
            for path in variants {
                for method in ["POST", "post", "Post", "PUT", "PATCH", "DELETE"] {
                    let response = try await RawConnection.exchange(port: port, raw(method, path, cookies: browser.cookies))
                    #expect(!(200..<300).contains(response.status), "\(method) \(path) → \(response.status)")
                }
            }
            for method in ["HEAD", "OPTIONS"] {
                for path in ["/v1/reviews", "//v1/reviews"] {
                    let response = try await RawConnection.exchange(port: port, raw(method, path, cookies: browser.cookies, body: ""))
                    #expect(!(200..<300).contains(response.status), "\(method) \(path) → \(response.status)")
                }
            }
            let refused = try await RawConnection.exchange(port: port, raw("POST", "//v1/reviews", cookies: browser.cookies))
            #expect(refused.status == 400 && refused.body.contains("non_canonical_path"), "\(refused.head)")
            // The canonical path without the CSRF header: refused by the route's rule.
            let noToken = try await RawConnection.exchange(port: port, raw("POST", "/v1/reviews", cookies: browser.cookies))
            #expect(noToken.status == 403 && noToken.body.contains("csrf"))
            #expect(try await server.store.reviews(query: nil, verdict: nil, limit: 10, before: nil).isEmpty)
            #expect(try await server.store.tokens().count == 3)
        }
    }

    @Test func aBrowsersRequestFromAnotherOriginIsRefusedEvenWithTheCSRFValue() async throws {
        try await ServerHarness.with(mock: .latency(.seconds(600))) { server in
            defer { server.mock.stats.beginShutdown() }
            let browser = Browser(server)
            let csrf = try await browser.signIn(server.editor)
            let port = try #require(server.client.port)
            for (name, value) in [
                ("Origin", "http://127.0.0.1:\(port + 1)"), ("Origin", "http://evil.example"), ("Origin", "null"),
                ("Sec-Fetch-Site", "same-site"), ("Sec-Fetch-Site", "cross-site"),
            ] {
                let response = try await browser.send(
                    .post, "/v1/reviews", headers: [.csrfHeader: csrf, HTTPField.Name(name)!: value], body: Self.listing)
                #expect(response.status == .forbidden && response.text.contains("cross_origin"), "\(name): \(value) → \(response.status)")
            }
            // The sign-in form too: no page elsewhere signs an editor in.
            let signin = try await Browser(server).send(
                .post, "/signin", form: [("csrf", "x"), ("token", server.editor)], headers: [.origin: "http://evil.example"])
            #expect(signin.status == .forbidden)
            #expect(try await server.store.reviews(query: nil, verdict: nil, limit: 10, before: nil).isEmpty)
            // The server's own origin (under each loopback name), or a script's request with no Origin, passes.
            for origin in ["http://127.0.0.1:\(port)", "http://localhost:\(port)"] {
                let response = try await browser.send(
                    .post, "/v1/reviews", headers: [.csrfHeader: csrf, .origin: origin, .secFetchSiteHeader: "same-origin"],
                    body: Self.listing)
                #expect(response.status == .accepted, "\(origin): \(response.text)")
            }
            let bearer = try await server.request(.post, "/v1/reviews", token: server.editor, body: Self.listing)
            #expect(bearer.status == .accepted)
        }
    }

    @Test func aPublicURLIsTheOnlyOriginAccepted() throws {
        let origins = TrustedOrigins(publicURL: "https://Panel.Example.com:443/team", listenHost: "0.0.0.0", port: 8787)
        #expect(TrustedOrigins.origin(of: "https://Panel.Example.com:443/team") == "https://panel.example.com")
        #expect(TrustedOrigins.origin(of: "http://[::1]:8787") == "http://[::1]:8787")
        #expect(TrustedOrigins.origin(of: "ftp://x") == nil)
        _ = origins
    }

    @Test func signingOutNeedsTheSessionsCSRFValueAndEndsTheSessionInTheStore() async throws {
        try await ServerHarness.with { server in
            let browser = Browser(server)
            let csrf = try await browser.signIn(server.editor)
            let cookie = try #require(browser.cookies["panel_session"])
            for form in [[("csrf", "wrong")], []] {
                let refused = try await browser.send(.post, "/signout", form: form)
                #expect(refused.status == .forbidden)
                #expect(browser.cookies["panel_session"] == cookie, "a refused sign-out must not clear the cookie")
                #expect(try await browser.send(.get, "/").text.contains("name=\"csrf\" value=\"\(csrf)\""))
            }
            let done = try await browser.send(.post, "/signout", form: [("csrf", csrf)])
            #expect(done.status == .seeOther)
            // The old cookie no longer signs anyone in.
            let replay = try await server.request(.get, "/v1/reviews", headers: [.cookie: "panel_session=\(cookie)"])
            #expect(replay.status == .unauthorized)
        }
    }

    @Test func connectionsOverTheCapAreAnswered503AtOnce() async throws {
        // A header deadline far beyond the test: the half-sent requests stay open however slow the machine.
        let options = ServerOptions(
            port: 0, workerPollInterval: .milliseconds(50), headerTimeout: .seconds(600), idleTimeout: .seconds(600), maxConnections: 64,
            maxConnectionsPerClient: 4)
        try await ServerHarness.with(options: options) { server in
            let port = try #require(server.client.port)
            var held: [RawConnection] = []
            for _ in 0..<4 {
                let connection = try RawConnection(port: port)
                try connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                held.append(connection)
            }
            // The server admits connections on several event loops at once: the test waits until it has
            // counted the four (one of them may have been the over-cap one, if the harness's client holds one).
            #expect(await eventually { server.server.connections.openCount >= 4 })
            // Over the per-address cap (the four, and the harness's own client's if it holds one): a 503 at
            // once, and the connection closed — not left waiting, not starving the rest.
            let over = try RawConnection(port: port)
            let refused = await over.response()
            #expect(refused?.status == 503 && refused?.body.contains("connections open") == true, "\(refused?.head ?? "none")")
            #expect(refused?.head.contains("Retry-After") == true)
            #expect(await over.closedByServer())
            #expect(server.server.connections.openCount >= 4)
            held.removeAll()
        }
    }

    @Test func connectionsThatNeverFinishTheirHeadersAreClosed() async throws {
        let options = ServerOptions(port: 0, workerPollInterval: .milliseconds(50), headerTimeout: .milliseconds(300))
        try await ServerHarness.with(options: options) { server in
            let port = try #require(server.client.port)
            var held: [RawConnection] = []
            for _ in 0..<6 {
                let connection = try RawConnection(port: port)
                try connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                held.append(connection)
            }
            // Closed by the header deadline, however long they would trickle on (a wait bounded at 120 s).
            for connection in held { #expect(await connection.closedByServer()) }
            // A kept-alive connection's next request has the deadline from its first byte.
            let kept = try RawConnection(port: port)
            try kept.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await kept.response()?.status == 200)
            try kept.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            #expect(await kept.closedByServer())
            let healthy = try await RawConnection.exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(healthy.status == 200)
        }
    }

    @Test func theConnectionTableCapsPerClientAndInAll() {
        let table = ConnectionTable(maxTotal: 3, maxPerClient: 2)
        let clients = ClientAddresses(trustedProxies: [NetworkPrefix("10.0.0.0/8")!])
        #expect(clients.client(peer: "10.1.2.3", forwardedFor: "198.51.100.7, 10.9.9.9") == "198.51.100.7")
        #expect(clients.client(peer: "203.0.113.5", forwardedFor: "198.51.100.7") == "203.0.113.5")
        #expect(clients.client(peer: "10.1.2.3", forwardedFor: "not-an-address") == "10.1.2.3")
        #expect(NetworkPrefix("::1")?.contains("::1") == true && NetworkPrefix("2001:db8::/32")?.contains("2001:db8:1::1") == true)
        #expect(NetworkPrefix("192.168.0.0/16")?.contains("::ffff:192.168.4.4") == true)
        #expect(NetworkPrefix("10.0.0.0/33") == nil && NetworkPrefix("nope") == nil)
        #expect(table.open(client: "a", perClientCap: true) == nil)
        #expect(table.open(client: "a", perClientCap: true) == nil)
        #expect(table.open(client: "a", perClientCap: true) != nil)
        #expect(table.open(client: "proxy", perClientCap: false) == nil)
        #expect(table.open(client: "b", perClientCap: true) != nil)  // the total
        table.close(client: "a", perClientCap: true)
        #expect(table.open(client: "b", perClientCap: true) == nil)
        #expect(table.openCount == 3)
    }

    /// Reads from an event stream until `fragment` arrives.
    func readUntil(_ connection: RawConnection, _ fragment: String) async -> Bool {
        var text = ""
        while !text.contains(fragment) {
            guard let more = await connection.read() else { return false }
            text += more
        }
        return true
    }

    @Test func eventStreamsWhoseClientsLeftAreEnded() async throws {
        let options = ServerOptions(port: 0, workerPollInterval: .milliseconds(50), streamHeartbeat: .milliseconds(50))
        try await ServerHarness.with(options: options, mock: .latency(.seconds(600))) { server in
            defer { server.mock.stats.beginShutdown() }
            let port = try #require(server.client.port)
            let created = try await server.request(.post, "/v1/reviews", token: server.editor, body: Self.listing)
            let live = try #require(created.json?["id"]?.stringValue)
            // A review this server does not run (another server's, sharing the store): its watchers poll.
            let elsewhere = TeamReview(
                id: "r_elsewhere", createdAt: 1, tokenID: "t", createdBy: "ann", status: .running, title: "Elsewhere", listings: "[]")
            try await server.store.createReview(elsewhere)
            for id in [live, elsewhere.id] {
                var connections: [RawConnection] = []
                for _ in 0..<10 {
                    let connection = try RawConnection(port: port)
                    try connection.send(
                        "GET /v1/reviews/\(id)/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(server.viewer)\r\n\r\n")
                    #expect(await readUntil(connection, "retry: 2000"))
                    connections.append(connection)
                }
                #expect(await eventually { server.server.metrics.streamsOpen == 10 })
                connections.removeAll()  // the clients leave (their sockets close)
                #expect(await eventually { server.server.metrics.streamsOpen == 0 }, "\(id)")
            }
        }
    }

    @Test func aTokensBudgetCapsWhatConcurrentReviewsMaySpend() async throws {
        try await ServerHarness.with(mock: .latency(.seconds(600))) { server in
            let ceiling = try #require(server.server.engine.spendCeiling([Listing(name: "Ollama", description: "Runs models locally.")]))
            let budget = ceiling * 2.5  // room for two reviews' ceilings, not three
            let secret = try await TeamTokens.create(in: server.store, name: "capped", role: .editor, budgetUSD: budget).secret
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await server.request(.post, "/v1/reviews", token: secret, body: Self.listing).status.code }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 202 }.count == 2, "\(statuses)")
            #expect(statuses.filter { $0 == 402 }.count == 18)
            let held = try #require(try await server.store.tokens().first { $0.name == "capped" })
            #expect(held.spentUSD <= budget && abs(held.spentUSD - 2 * ceiling) < 1e-9)
            // Once the answers come, each review is charged what it cost and gives its reservation back.
            server.mock.stats.beginShutdown()
            #expect(
                await eventually {
                    try await server.store.reviews(query: nil, verdict: nil, limit: 10, before: nil).allSatisfy { $0.status == .done }
                })
            let settled = try #require(try await server.store.tokens().first { $0.name == "capped" })
            let costs = try await server.store.reviews(query: nil, verdict: nil, limit: 10, before: nil).compactMap(\.costUSD)
            #expect(costs.count == 2 && abs(settled.spentUSD - costs.reduce(0, +)) < 1e-9 && settled.spentUSD < ceiling)
        }
    }

    @Test func oneTokensFloodDoesNotQueueBeyondItsCap() async throws {
        let options = ServerOptions(port: 0, workerPollInterval: .milliseconds(50), maxQueuedReviewsPerToken: 3)
        try await ServerHarness.with(options: options, mock: .latency(.seconds(600))) { server in
            defer { server.mock.stats.beginShutdown() }
            var statuses: [Int] = []
            for _ in 0..<5 {
                statuses.append(try await server.request(.post, "/v1/reviews", token: server.editor, body: Self.listing).status.code)
            }
            #expect(statuses == [202, 202, 202, 429, 429])
            let refused = try await server.request(.post, "/v1/reviews", token: server.editor, body: Self.listing)
            #expect(refused.text.contains("too_many_queued") && refused.headers[.retryAfter] != nil)
            // Another editor is not kept waiting behind the flood's cap.
            #expect(try await server.request(.post, "/v1/reviews", token: server.admin, body: Self.listing).status == .accepted)
        }
    }

    @Test func aBudgetedTokensBatchReservesItsBudgetAndIsSettledWhenDone() async throws {
        try await ServerHarness.with { server in
            let secret = try await TeamTokens.create(in: server.store, name: "ops", role: .admin, budgetUSD: 0.5).secret
            let listings = #"{"name": "One", "description": "First."}"#
            func batch(_ budget: String?) async throws -> TestResponse {
                let field = budget.map { #", "budget_usd": \#($0)"# } ?? ""
                return try await server.request(.post, "/v1/batches", token: secret, body: #"{"listings": [\#(listings)]\#(field)}"#)
            }
            let unbounded = try await batch(nil)
            #expect(unbounded.status.code == 402 && unbounded.text.contains("budget_required"))
            let tooBig = try await batch("0.6")
            #expect(tooBig.status.code == 402 && tooBig.text.contains("budget_spent"))
            let accepted = try await batch("0.2")
            #expect(accepted.status == .accepted, "\(accepted.text)")
            let id = try #require(accepted.json?["id"]?.stringValue)
            func spent() async throws -> Double { try #require(try await server.store.tokens().first { $0.name == "ops" }).spentUSD }
            let reserved = try await spent()
            #expect(reserved >= 0.2 - 1e-9)
            #expect(
                await eventually {
                    try await server.request(.get, "/v1/batches/\(id)", token: secret).json?["status"]?.stringValue == "done"
                })
            let batchSpent = try await server.store.spent(job: id)
            let settled = try await spent()
            #expect(batchSpent > 0 && abs(settled - batchSpent) < 1e-9)
        }
    }

    @Test func aRoutedPanelStreamsToItsWatchers() async throws {
        // The mock holds its answers until the watcher is connected, then streams each in pieces 150 ms
        // apart (more than the 100 ms the server merges deltas over).
        var mock = MockProviderConfiguration()
        mock.latency = .seconds(600)
        mock.streamChunkInterval = .milliseconds(150)
        try await ServerHarness.with(mock: mock, routed: true) { server in
            let created = try await server.request(.post, "/v1/reviews", token: server.editor, body: Self.listing)
            let id = try #require(created.json?["id"]?.stringValue)
            let watcher = Task { try await server.request(.get, "/v1/reviews/\(id)/events", token: server.viewer).text }
            #expect(await eventually { server.server.metrics.streamsOpen == 1 })
            server.mock.stats.beginShutdown()
            let events = parseEvents(try await watcher.value)
            for persona in ["builder", "skeptic", "founder", "futurist"] {
                let mine = events.filter { $0.data["persona"]?.stringValue == persona }.map(\.name)
                let finished = try #require(mine.firstIndex(of: "persona.finished"), "\(persona): \(mine)")
                #expect(mine[..<finished].filter { $0 == "persona.delta" }.count >= 2, "\(persona): \(mine)")
            }
            let document = try await server.request(.get, "/v1/reviews/\(id)", token: server.viewer).json
            let backends =
                document?["document"]?["tools"]?.arrayValue?.first?["reviews"]?.arrayValue?.compactMap { $0["backend"]?.stringValue } ?? []
            #expect(backends.count == 4 && backends.allSatisfy { ["mock", "mock-b"].contains($0) }, "\(backends)")
        }
    }

    /// True once `condition` holds, checked every 20 ms for at most 120 s (a bound on a hang only).
    func eventually(_ condition: () async throws -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}

extension HTTPField.Name {
    static let csrfHeader = Self("X-CSRF-Token")!
    static let secFetchSiteHeader = Self("Sec-Fetch-Site")!
}
