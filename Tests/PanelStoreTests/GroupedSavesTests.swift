import Foundation
import PanelEngine
import PostgresNIO
import Synchronization
import Testing

@testable import PanelPostgres

/// Saves of a job asked for while one is being sent go to the server together, each caller answered for
/// its own save; a statement the server refuses is sent again one save at a time.
@Suite(.timeLimit(.minutes(1)))
struct GroupedSavesTests {
    /// A stand-in for the server: records each statement's saves and holds the first until let go.
    final class Server: Sendable {
        let statements = Mutex<[[String]]>([])
        let gate = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))
        /// Keys whose statement the server refuses (any statement holding one).
        let refused: Set<String>

        init(refused: Set<String> = []) { self.refused = refused }

        struct Refused: Error {}
        struct Lost: Error {}

        func send(_ saves: [GroupedSaves.Save]) async throws -> [Bool] {
            statements.withLock { $0.append(saves.map(\.claim.key)) }
            await withCheckedContinuation { continuation in
                let open = gate.withLock { gate in
                    if !gate.open { gate.waiting.append(continuation) }
                    return gate.open
                }
                if open { continuation.resume() }
            }
            if saves.contains(where: { refused.contains($0.claim.key) }) { throw Refused() }
            if saves.contains(where: { $0.claim.key == "cut" }) { throw Lost() }
            return saves.map { $0.claim.token == "live" }
        }

        func open() {
            let waiting = gate.withLock { gate in
                gate.open = true
                defer { gate.waiting = [] }
                return gate.waiting
            }
            for continuation in waiting { continuation.resume() }
        }
    }

    static func save(_ job: String, _ key: String, token: String = "live") -> GroupedSaves.Save {
        GroupedSaves.Save(
            result: SavedResult(persona: "builder", review: "{}", costUSD: nil), claim: ItemClaim(job: job, key: key, token: token),
            reservation: nil)
    }

    /// Waits (yielding, at most a few thousand times) until `saves` has `count` saves queued.
    func queued(_ saves: GroupedSaves, _ count: Int) async {
        for _ in 0..<10_000 where saves.queuedCount < count { await Task.yield() }
    }

    @Test
    func savesAskedWhileOneIsSentGoTogether() async throws {
        let server = Server()
        let saves = GroupedSaves(window: .zero, deadline: nil, mayPass: { !($0 is Server.Refused) }) { try await server.send($0) }
        try await withThrowingTaskGroup(of: (String, Bool).self) { group in
            group.addTask { ("a", try await saves.save(Self.save("j", "a"))) }
            // The first save is on its way (the server holds it); the next ones queue behind it.
            for _ in 0..<10_000 where server.statements.withLock({ $0.isEmpty }) { await Task.yield() }
            for (key, token) in [("b", "live"), ("c", "stale"), ("d", "live")] {
                group.addTask { (key, try await saves.save(Self.save("j", key, token: token))) }
            }
            // Another job's save is never grouped with this job's.
            group.addTask { ("other", try await saves.save(Self.save("k", "other"))) }
            await queued(saves, 3)
            server.open()
            var held: [String: Bool] = [:]
            for try await (key, isHeld) in group { held[key] = isHeld }
            #expect(held == ["a": true, "b": true, "c": false, "d": true, "other": true])
        }
        let statements = server.statements.withLock { $0 }
        #expect(statements.count == 3)
        #expect(statements.contains(["a"]) && statements.contains(["other"]))
        #expect(statements.contains { Set($0) == ["b", "c", "d"] })
        #expect(saves.counts.statements == 3 && saves.counts.saves == 5)
        #expect(saves.queuedCount == 0)
    }

    /// A statement of several that the server refuses is sent again a save at a time: only the save at
    /// fault fails. A failure that may pass (a lost connection) fails the statement's saves at once.
    @Test
    func aRefusedStatementIsSentAgainOneSaveAtATime() async throws {
        let server = Server(refused: ["bad"])
        let saves = GroupedSaves(window: .zero, deadline: nil, mayPass: { !($0 is Server.Refused) }) { try await server.send($0) }
        var outcomes: [String: String] = [:]
        await withTaskGroup(of: (String, String).self) { group in
            for key in ["first", "b", "bad", "c", "cut", "d"] {
                group.addTask {
                    do { return (key, try await saves.save(Self.save("j", key)) ? "held" : "lost") } catch {
                        return (key, "\(type(of: error))")
                    }
                }
                if key == "first" {
                    for _ in 0..<10_000 where server.statements.withLock({ $0.isEmpty }) { await Task.yield() }
                }
            }
            await queued(saves, 5)
            server.open()
            for await (key, outcome) in group { outcomes[key] = outcome }
        }
        // "cut" in a statement refused for "bad": sent alone, it fails as a lost connection.
        #expect(outcomes == ["first": "held", "b": "held", "bad": "Refused", "c": "held", "cut": "Lost", "d": "held"])
        let statements = server.statements.withLock { $0 }
        #expect(statements.first == ["first"])
        #expect(statements.dropFirst().first.map(Set.init) == ["b", "bad", "c", "cut", "d"])
        #expect(statements.dropFirst(2).map(\.count) == [1, 1, 1, 1, 1])

        // A failure that may pass: the statement's saves fail together, none is sent again alone.
        let lost = Server()
        let grouped = GroupedSaves(window: .zero, deadline: nil, mayPass: { !($0 is Server.Refused) }) { try await lost.send($0) }
        var failures = 0
        await withTaskGroup(of: Bool.self) { group in
            for key in ["first", "cut", "b"] {
                group.addTask { (try? await grouped.save(Self.save("j", key))) == nil }
                if key == "first" {
                    for _ in 0..<10_000 where lost.statements.withLock({ $0.isEmpty }) { await Task.yield() }
                }
            }
            await queued(grouped, 2)
            lost.open()
            for await failed in group where failed { failures += 1 }
        }
        #expect(failures == 2)
        #expect(lost.statements.withLock { $0 }.count == 2)
    }

    /// The first save of a quiet moment waits ``GroupedSaves/window`` for company: the saves made meanwhile
    /// go in its statement (time here is a manual clock's).
    @Test
    func theFirstSaveWaitsForTheWindow() async throws {
        let server = Server()
        server.open()
        let clock = ManualClock()
        let saves = GroupedSaves(window: .milliseconds(10), clock: clock, deadline: nil, mayPass: { _ in true }) {
            try await server.send($0)
        }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await saves.save(Self.save("j", "a")) }
            await clock.until { $0.deadlines == [.milliseconds(10)] }
            for key in ["b", "c"] { group.addTask { try await saves.save(Self.save("j", key)) } }
            await queued(saves, 3)
            #expect(server.statements.withLock { $0.isEmpty })
            clock.advance(by: .milliseconds(10))
            for try await held in group { #expect(held) }
        }
        #expect(server.statements.withLock { $0.map(Set.init) } == [["a", "b", "c"]])
    }

    /// While the window is shut (the worker found nothing left to claim), the first save goes at once.
    @Test
    func whileTheWindowIsShutTheFirstSaveGoesAtOnce() async throws {
        let server = Server()
        server.open()
        let clock = ManualClock()
        let saves = GroupedSaves(window: .milliseconds(10), clock: clock, deadline: nil, mayPass: { _ in true }) {
            try await server.send($0)
        }
        saves.window.setOpen(false)
        #expect(try await saves.save(Self.save("j", "a")))
        #expect(clock.asked.isEmpty)
        #expect(server.statements.withLock { $0.map(Set.init) } == [["a"]])
    }

    /// No statement holds more than ``GroupedSaves/largest`` saves.
    @Test
    func aStatementHoldsAtMostTheLargestGroup() async throws {
        let server = Server()
        let saves = GroupedSaves(window: .zero, deadline: nil, mayPass: { _ in true }) { try await server.send($0) }
        let total = GroupedSaves.largest * 2 + 5
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await saves.save(Self.save("j", "0")) }
            for _ in 0..<10_000 where server.statements.withLock({ $0.isEmpty }) { await Task.yield() }
            for index in 1..<total { group.addTask { try await saves.save(Self.save("j", "\(index)")) } }
            await queued(saves, total - 1)
            server.open()
            var held = 0
            for try await isHeld in group where isHeld { held += 1 }
            #expect(held == total)
        }
        #expect(server.statements.withLock { $0.map(\.count) } == [1, GroupedSaves.largest, GroupedSaves.largest, 4])
    }

    /// Several saves in one statement on PostgreSQL: each answered for its own lease, in order; a
    /// statement the server refuses (a NUL byte, which text cannot hold) is told apart from a failure
    /// that may pass, so its saves are sent again one by one.
    @Test(.enabled(if: StoreKind.postgresURL != nil, "needs PANEL_TEST_POSTGRES_URL"))
    func severalSavesAreOneStatementOnPostgreSQL() async throws {
        try await StoreKind.postgres.with { opened in
            let store = try #require(opened as? PostgresStore)
            _ = try await store.enqueue(
                job: "j", settings: nil, budgetUSD: nil,
                listings: ["x", "y"].enumerated().map { QueuedListing(key: $1, position: $0, listing: "{}") }, retry: false)
            let claims = try await store.claimQueued(
                job: "j", kinds: .all, excluding: [], owner: "a", lease: .seconds(60), limit: 2, maxAttempts: 3
            ).map(\.claim)
            let x = try #require(claims.first { $0.key == "x" })
            let y = try #require(claims.first { $0.key == "y" })
            let saves = [
                GroupedSaves.Save(result: SavedResult(persona: "builder", review: "{}", costUSD: 0.25), claim: y, reservation: nil),
                GroupedSaves.Save(
                    result: SavedResult(persona: "builder", review: "{}", costUSD: 1), claim: ItemClaim(job: "j", key: "x", token: "old"),
                    reservation: nil),
                GroupedSaves.Save(result: SavedResult(persona: "skeptic", review: "{}", costUSD: nil), claim: x, reservation: nil),
                GroupedSaves.Save(result: nil, claim: x, reservation: nil),
            ]
            #expect(try await PostgresStore.send(saves, on: store.lanes) == [true, false, true, true])
            #expect(try await store.results(job: "j", key: "x").keys.sorted() == ["skeptic"])
            #expect(try await store.results(job: "j", key: "y").keys.sorted() == ["builder"])
            #expect(try await store.spent(job: "j") == 0.25)
            // Saved again: the same result changes nothing; a different one replaces it and its cost counts.
            let again = [
                saves[0],
                GroupedSaves.Save(
                    result: SavedResult(persona: "skeptic", review: "{\"new\": 1}", costUSD: 0.5), claim: x, reservation: nil),
            ]
            #expect(try await PostgresStore.send(again, on: store.lanes) == [true, true])
            #expect(try await store.results(job: "j", key: "x") == ["skeptic": "{\"new\": 1}"])
            #expect(try await store.spent(job: "j") == 0.75)
            // One statement cannot write a row twice: the server refuses it, and its saves go one by one.
            do {
                let twice = ["{\"a\": 1}", "{\"b\": 1}"].map {
                    GroupedSaves.Save(result: SavedResult(persona: "skeptic", review: $0, costUSD: nil), claim: x, reservation: nil)
                }
                _ = try await PostgresStore.send(twice, on: store.lanes)
                Issue.record("one statement wrote a result twice")
            } catch {
                #expect(!PostgresStore.mayPassAlone(error))
            }

            let refused =
                saves.prefix(1) + [
                    GroupedSaves.Save(result: SavedResult(persona: "founder", review: "a\u{0}b", costUSD: nil), claim: x, reservation: nil)
                ]
            do {
                _ = try await PostgresStore.send(Array(refused), on: store.lanes)
                Issue.record("a NUL byte in text was accepted")
            } catch {
                #expect(!PostgresStore.mayPassAlone(error))
            }
            #expect(PostgresStore.mayPassAlone(CancellationError()))
            #expect(try await store.results(job: "j", key: "x").keys.sorted() == ["skeptic"])
        }
    }
}
