import Foundation
import PanelEngine
import PostgresNIO
import Synchronization
import Testing

@testable import PanelPostgres

/// How many times a PostgreSQL store signs in: each sign-in is SCRAM's 4,096 rounds of PBKDF2 on the
/// client (a few milliseconds of CPU), and a worker opens the store once per run.
struct PostgresConnectionsTests {
    /// The connections of the store's database other than the asking one.
    func backends(_ store: PostgresStore) async throws -> Int {
        let database = String(store.location.split(separator: "/").last ?? "")
        let url = StoreKind.url(try #require(StoreKind.postgresURL), database: database)
        let connection = try await PostgresStore.directConnection(to: PostgresLocation(url: url), logger: store.logger)
        var count = -1
        do {
            for try await value in try await connection.query(
                "SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                logger: store.logger
            ).decode(Int.self) {
                count = value
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
        return count
    }

    /// The count of ``backends(_:)`` once it settles on `expected` (a closed connection's server process
    /// leaves the list a moment after the client closed it), or the last count within two seconds.
    func settledBackends(_ store: PostgresStore, _ expected: Int) async throws -> Int {
        var count = try await backends(store)
        for _ in 0..<40 where count != expected {
            try await Task.sleep(for: .milliseconds(50))
            count = try await backends(store)
        }
        return count
    }

    /// The migration's connection, once the schema is in place, becomes the first statement lane's: the
    /// store keeps it open, and a statement runs on it without signing in again. Another lane connects
    /// only when a statement comes while every open lane has ``StatementLanes/crowded`` in flight.
    @Test(.enabled(if: StoreKind.postgresURL != nil, "needs PANEL_TEST_POSTGRES_URL"))
    func lanesSignInOnlyWhenStatementsQueue() async throws {
        try await StoreKind.postgres.with { opened in
            let store = try #require(opened as? PostgresStore)
            let lanes = store.lanes
            #expect(try await settledBackends(store, 1) == 1)
            #expect(lanes.choose() === lanes.lanes[0])
            let first = try #require(await lanes.connection(of: lanes.lanes[0]))
            #expect(!first.isClosed)
            // Statements one after another: all on the first lane, no other sign-in.
            let claim = ItemClaim(job: "j", key: "x", token: "t")
            for persona in ["builder", "skeptic", "founder"] {
                let result = SavedResult(persona: persona, review: "{}", costUSD: nil)
                #expect(try await store.saveResult(result, claim: claim, settling: nil) == false)
            }
            #expect(lanes.lanes.dropFirst().allSatisfy { !$0.isOpen })
            #expect(try await settledBackends(store, 1) == 1)
            // A statement while the first lane has fewer than `crowded` in flight waits behind them there.
            lanes.lanes[0].inFlight.add(StatementLanes.crowded - 1, ordering: .relaxed)
            #expect(lanes.choose() === lanes.lanes[0])
            // With `crowded` in flight there, the next lane, which signs in.
            lanes.lanes[0].inFlight.add(1, ordering: .relaxed)
            let second = lanes.choose()
            #expect(second === lanes.lanes[1])
            _ = try #require(await lanes.connection(of: second))
            #expect(try await settledBackends(store, 2) == 2)
            // An open lane with nothing in flight first; then the least loaded open one while it is not crowded.
            #expect(lanes.choose() === lanes.lanes[1])
            lanes.lanes[1].inFlight.add(1, ordering: .relaxed)
            #expect(lanes.choose() === lanes.lanes[1])
            // Every open lane crowded: a lane not connected yet.
            lanes.lanes[1].inFlight.add(StatementLanes.crowded - 1, ordering: .relaxed)
            #expect(lanes.choose() === lanes.lanes[2])
            lanes.lanes[0].inFlight.subtract(StatementLanes.crowded, ordering: .relaxed)
            lanes.lanes[1].inFlight.subtract(StatementLanes.crowded, ordering: .relaxed)
            await lanes.close()
            #expect(lanes.adopt(first) == false)
        }
    }
}
