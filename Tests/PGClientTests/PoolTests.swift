import Foundation
import PGClient
import PGPoolCore
import PGTestSupport
import Testing

@Suite(.serialized) struct PoolTests {
    func makePool(_ pool: PGPoolConfiguration, session: PGPool.SessionSettings = .init(), url: String? = nil) async throws -> PGPool {
        var config = try await TestDB.configuration()
        if let url { config = try PGConnectionConfiguration(url: url) }
        return PGPool(configuration: config, options: .init(pool: pool, session: session))
    }

    func backends(_ pg: TemporaryPostgres, app: String) async throws -> Int {
        Int(try await pg.psql("select count(*) from pg_stat_activity where application_name = '\(app)'")) ?? -1
    }

    /// Backends exit a moment after the client's Terminate: waits up to 2 s for the count to reach `expected`.
    func backendsSettle(_ pg: TemporaryPostgres, app: String, to expected: Int) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(2)
        var n = try await backends(pg, app: app)
        while n != expected, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            n = try await backends(pg, app: app)
        }
        return n
    }

    @Test func staleStatementsAreRetriedOnAFreshPick() async throws {
        let pool = try await makePool(.init(minimumConnections: 2, maximumConnections: 2))
        await pool.start()
        try await pool.execute("DROP TABLE IF EXISTS pool_stale_t")
        try await pool.execute("CREATE TABLE pool_stale_t(a int)")
        try await pool.execute("INSERT INTO pool_stale_t VALUES (\(Int32(1)))")
        // Prepared on both connections (shared statements go round-robin), then the result type changes.
        for _ in 0..<4 { #expect(try await pool.query("SELECT * FROM pool_stale_t").collect()[0].count == 1) }
        try await pool.execute("ALTER TABLE pool_stale_t ADD COLUMN b text DEFAULT 'x'")
        for _ in 0..<4 { #expect(try await pool.query("SELECT * FROM pool_stale_t").collect()[0].count == 2) }
        try await pool.execute("DROP TABLE pool_stale_t")
        await pool.shutdown()
    }

    /// A server that refuses the login: start() returns instead of waiting forever for the minimum, and a
    /// lease fails at once with the reason, not after the acquire timeout.
    @Test func startReturnsAndLeasesFailAtOnceWhenTheLoginIsRefused() async throws {
        let pg = try await TestDB.server()
        let url = pg.url(user: TemporaryPostgres.Role.scram.name, password: "not-the-password") + "?sslmode=disable"
        let pool = try await makePool(.init(minimumConnections: 2, maximumConnections: 2, acquireTimeout: .seconds(30)), url: url)
        try await within(.seconds(15), "start() with a refused login") { await pool.start() }
        let started = ContinuousClock.now
        let error = await #expect(throws: PGError.self) { _ = try await pool.queryOne("SELECT 1", as: Int.self) }
        #expect(error?.code == .authenticationFailed, "\(String(describing: error))")
        #expect(ContinuousClock.now - started < .seconds(15))
        #expect(await pool.statistics.open == 0)
        await pool.shutdown()
    }

    /// A shared statement goes to an idle connection rather than queue behind a long one, also when the long
    /// one runs on a connection that lives on the caller's own event loop (which it would otherwise prefer).
    @Test func sharedStatementsDoNotQueueBehindALongOne() async throws {
        let pool = try await makePool(.init(minimumConnections: 2, maximumConnections: 2))
        await pool.start()
        let deadline = ContinuousClock.now + .seconds(5)
        while await pool.statistics.open < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        try #require(await pool.statistics.open == 2)
        for loop in pool.eventLoops {
            let slow = Task(executorPreference: loop) { try await pool.execute("SELECT pg_sleep(\(Promptly.sleepSeconds))") }
            try await Task.sleep(for: .milliseconds(200))
            for i in 0..<3 {
                let started = ContinuousClock.now
                let value = try await Task(executorPreference: loop) {
                    try await pool.queryOne("SELECT \(Int32(i))::int4 + 1", as: Int.self)
                }.value
                #expect(value == i + 1)
                #expect(ContinuousClock.now - started < Promptly.bound, "waited \(ContinuousClock.now - started) behind the long one")
            }
            slow.cancel()
            _ = try? await slow.value
        }
        await pool.shutdown()
    }

    @Test func twoHundredTasksShareEightConnections() async throws {
        let pg = try await TestDB.server()
        let app = "tusk_pool_200"
        let pool = try await makePool(.init(minimumConnections: 2, maximumConnections: 8), session: .init(applicationName: app))
        await pool.start()
        let sum = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<200 {
                group.addTask {
                    var s = 0
                    for j in 0..<10 {
                        s += try await pool.queryOne("SELECT \(Int32(i * 10 + j)) + 1, pg_backend_pid()", as: (Int, Int32).self).0
                    }
                    return s
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(sum == (1...2000).reduce(0, +))
        #expect(try await backends(pg, app: app) <= 8)
        let stats = await pool.statistics
        #expect(stats.leased == 0 && stats.waiters == 0 && stats.open <= 8)
        await pool.shutdown()
        #expect(try await backendsSettle(pg, app: app, to: 0) == 0)
    }

    @Test func acquireTimeoutSaysThePoolIsExhausted() async throws {
        let pool = try await makePool(.init(maximumConnections: 1, acquireTimeout: .milliseconds(200)))
        try await pool.withConnection { _ in
            let start = ContinuousClock.now
            do {
                _ = try await pool.queryOne("SELECT 1")
                Issue.record("leased a second connection from a pool of one")
            } catch let e as PGError {
                #expect(e.code == .poolExhausted, "\(e)")
                #expect(e.isSafeToRetry)
            }
            #expect(ContinuousClock.now - start < Promptly.bound)
        }
        // And it serves again once the connection is back.
        #expect(try await pool.queryOne("SELECT 1", as: Int.self) == 1)
        await pool.shutdown()
    }

    @Test func waitersAreFIFOAndCancelledWaitersLeave() async throws {
        let pool = try await makePool(.init(maximumConnections: 1, acquireTimeout: .seconds(10)))
        let order = OrderLog()
        let holder = Task {
            try await pool.withConnection { _ in try await Task.sleep(for: .milliseconds(300)) }
        }
        try await Task.sleep(for: .milliseconds(50))
        var waiters: [Task<Void, any Error>] = []
        for i in 0..<5 {
            waiters.append(Task { try await pool.withConnection { _ in await order.append(i) } })
            try await Task.sleep(for: .milliseconds(20))
        }
        let cancelled = Task { try await pool.withConnection { _ in await order.append(99) } }
        try await Task.sleep(for: .milliseconds(20))
        cancelled.cancel()
        await #expect(throws: PGError.self) { try await cancelled.value }
        try await holder.value
        for w in waiters { try await w.value }
        #expect(await order.items == [0, 1, 2, 3, 4])
        #expect(await pool.statistics.waiters == 0)
        await pool.shutdown()
    }

    @Test func sessionSettingsAreAppliedWithSET() async throws {
        let pool = try await makePool(.init(maximumConnections: 1), session: .init(
            statementTimeout: .milliseconds(1500), idleInTransactionSessionTimeout: .seconds(7),
            applicationName: "tusk 'quoted' app", searchPath: ["my schema", "public"]))
        let row = try await pool.queryOne("SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout'), current_setting('application_name'), current_setting('search_path')", as: (String, String, String, String).self)
        #expect(row.0 == "1500ms")
        #expect(row.1 == "7s")
        #expect(row.2 == "tusk 'quoted' app")
        #expect(row.3 == "\"my schema\", public")
        await pool.shutdown()
    }

    @Test func aLeaseLeftInATransactionIsRolledBack() async throws {
        let pool = try await makePool(.init(maximumConnections: 1))
        try await pool.withConnection { c in
            try await c.execute("BEGIN")
            try await c.execute("CREATE TEMP TABLE left_open(v int)")
        }
        let status = try await pool.withConnection { c in await c.transactionStatus }
        #expect(status == .idle)
        let exists = try await pool.queryOne("SELECT to_regclass('pg_temp.left_open') IS NOT NULL", as: Bool.self)
        #expect(!exists)
        try await pool.withTransaction { tx in try await tx.execute("SELECT 1") }
        await pool.shutdown()
    }

    @Test func killedConnectionsNeverLeaveARequestHanging() async throws {
        let pg = try await TestDB.server()
        let app = "tusk_pool_kill"
        let pool = try await makePool(.init(minimumConnections: 8, maximumConnections: 8, acquireTimeout: .seconds(60)),
                                      session: .init(applicationName: app))
        await pool.start()
        let stop = StopFlag()
        let outcomes = OutcomeLog()
        let workers = (0..<64).map { i in
            Task {
                while !(await stop.isSet) {
                    let began = ContinuousClock.now
                    do {
                        _ = try await pool.queryOne("SELECT \(Int32(i)), pg_sleep(0.01)")
                        await outcomes.record(ok: true, took: ContinuousClock.now - began)
                    } catch {
                        await outcomes.record(ok: false, took: ContinuousClock.now - began)
                    }
                }
            }
        }
        for _ in 0..<5 {
            try await Task.sleep(for: .milliseconds(300))
            _ = try await pg.psql("select pg_terminate_backend(pid) from pg_stat_activity where application_name = '\(app)'")
        }
        try await Task.sleep(for: .milliseconds(500))
        await stop.set()
        try await within(Promptly.bound, "workers finishing") {
            for w in workers { await w.value }
        }
        let (ok, failed, slowest) = await outcomes.summary
        #expect(ok > 0)
        #expect(failed > 0, "killing backends made no request fail, so the test did not test anything")
        // A request left hanging would wait out the 60 s acquire timeout (or forever).
        #expect(slowest < Promptly.bound, "a request took \(slowest)")
        // Still serving, and nothing leaked.
        #expect(try await pool.queryOne("SELECT 1", as: Int.self) == 1)
        #expect(try await backends(pg, app: app) <= 8)
        await pool.shutdown()
        #expect(try await backendsSettle(pg, app: app, to: 0) == 0)
    }

    @Test func serverRestartMidLoad() async throws {
        let shared = try await TemporaryPostgres.shared()
        guard !shared.isExternal else { return }
        let pg = try await TemporaryPostgres.start()
        defer { Task { await pg.stop() } }
        let app = "tusk_pool_restart"
        let pool = try await makePool(
            .init(minimumConnections: 4, maximumConnections: 8, acquireTimeout: .seconds(3), connectBackoffInitial: .milliseconds(20), connectBackoffMaximum: .milliseconds(200)),
            session: .init(applicationName: app), url: pg.url())
        await pool.start()
        let stop = StopFlag()
        let outcomes = OutcomeLog()
        let workers = (0..<16).map { _ in
            Task {
                while !(await stop.isSet) {
                    let began = ContinuousClock.now
                    do {
                        _ = try await pool.queryOne("SELECT 1")
                        await outcomes.record(ok: true, took: ContinuousClock.now - began)
                    } catch let e as PGError {
                        #expect([.connectionClosed, .connectionFailed, .poolExhausted, .server].contains(e.code), "\(e)")
                        await outcomes.record(ok: false, took: ContinuousClock.now - began)
                        try? await Task.sleep(for: .milliseconds(10))
                    } catch {
                        Issue.record("untyped error \(error)")
                    }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        try await pg.restart()
        let back = ContinuousClock.now
        var served: Duration?
        while ContinuousClock.now - back < Promptly.bound {
            if (try? await pool.queryOne("SELECT 1", as: Int.self)) == 1 {
                served = ContinuousClock.now - back
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        await stop.set()
        for w in workers { await w.value }
        _ = try #require(served, "the pool did not serve again within \(Promptly.bound) of the restart")
        #expect(try await backends(pg, app: app) <= 8)
        await pool.shutdown()
        #expect(try await backendsSettle(pg, app: app, to: 0) == 0)
        await pg.stop()
    }

    @Test func shutdownWithLeasesOutstanding() async throws {
        let pool = try await makePool(.init(minimumConnections: 1, maximumConnections: 2))
        await pool.start()
        let holder = Task {
            try await pool.withConnection { c in
                _ = try await c.query("SELECT pg_sleep(\(Promptly.sleepSeconds))").collect()
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        await pool.shutdown(gracePeriod: .milliseconds(300))
        let took = ContinuousClock.now - start
        #expect(took >= .milliseconds(250) && took < Promptly.bound, "shutdown took \(took)")
        await #expect(throws: PGError.self) { try await holder.value }
        do {
            _ = try await pool.queryOne("SELECT 1")
            Issue.record("a shut-down pool served a query")
        } catch let e as PGError {
            #expect(e.code == .poolShutDown)
        }
    }

    @Test func runAsAServiceStopsOnCancellation() async throws {
        let pool = try await makePool(.init(minimumConnections: 1, maximumConnections: 2))
        let service = Task { try await pool.run() }
        try await Task.sleep(for: .milliseconds(200))
        #expect(await pool.statistics.open >= 1)
        service.cancel()
        try await within(.seconds(5), "service shutdown") { try await service.value }
        #expect(await pool.statistics.open == 0)
    }

    @Test func poolNotificationsUseOneListener() async throws {
        let pool = try await makePool(.init(maximumConnections: 2))
        let events = try await pool.notifications(on: "tusk_pool_chan")
        try await pool.withConnection { c in try await c.notify(channel: "tusk_pool_chan", payload: "hi") }
        var it = events.makeAsyncIterator()
        let first = await it.next()
        if case .notification(let n) = first { #expect(n.payload == "hi") } else { Issue.record("got \(String(describing: first))") }
        await pool.shutdown()
    }
}

actor OrderLog {
    var items: [Int] = []
    func append(_ i: Int) { items.append(i) }
}

actor StopFlag {
    var isSet = false
    func set() { isSet = true }
}

actor OutcomeLog {
    var ok = 0
    var failed = 0
    var slowest: Duration = .zero
    func record(ok success: Bool, took: Duration) {
        if success { ok += 1 } else { failed += 1 }
        slowest = max(slowest, took)
    }
    var summary: (Int, Int, Duration) { (ok, failed, slowest) }

}
