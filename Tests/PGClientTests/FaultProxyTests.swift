import Foundation
import PGClient
import PGPoolCore
import PGTestSupport
import Testing

/// The driver behind a `PGFaultProxy`: latency, a stall, drops and resets, refused connections.
/// Every wait is bounded; each test checks both the fault's effect and the recovery.
@Suite(.serialized) struct FaultProxyTests {
    func config(_ proxy: PGFaultProxy, connectTimeout: Duration = .seconds(10)) async throws -> PGConnectionConfiguration {
        var config = try PGConnectionConfiguration(url: proxy.url(for: try await TestDB.server()))
        config.connectTimeout = connectTimeout
        return config
    }

    @Test func passesBytesBothWaysAndCountsThem() async throws {
        let proxy = try PGFaultProxy(in: try await TestDB.server())
        defer { proxy.stop() }
        let c = try await PGConnection.connect(try await config(proxy))
        #expect(try await c.queryOne("SELECT 40 + \(2)", as: Int.self) == 42)
        let stats = proxy.statistics
        #expect(stats.accepted == 1 && stats.active == 1, "\(stats)")
        #expect(stats.bytesToServer > 8 && stats.bytesToClient > 8, "\(stats)")
        await c.close()
        // The server's side closes once the client's does.
        let deadline = ContinuousClock.now + Promptly.bound
        while proxy.statistics.active != 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(proxy.statistics.active == 0)
        proxy.stop()
        #expect(!proxy.isRunning)
    }

    @Test func latencyDelaysEachDirection() async throws {
        let proxy = try PGFaultProxy(in: try await TestDB.server())
        defer { proxy.stop() }
        let c = try await PGConnection.connect(try await config(proxy))
        _ = try await c.queryOne("SELECT 1", as: Int.self)
        proxy.addLatency(.milliseconds(150))
        #expect(proxy.flow == .latency(.milliseconds(150)))
        let start = ContinuousClock.now
        #expect(try await c.queryOne("SELECT 2", as: Int.self) == 2)
        let elapsed = ContinuousClock.now - start
        // One round trip: 150 ms out, 150 ms back.
        #expect(elapsed >= .milliseconds(300), "took \(elapsed)")
        #expect(elapsed < Promptly.bound, "took \(elapsed)")
        proxy.pass()
        let again = ContinuousClock.now
        #expect(try await c.queryOne("SELECT 3", as: Int.self) == 3)
        #expect(ContinuousClock.now - again < Promptly.bound)
        await c.close()
    }

    @Test func aStallHoldsBytesUntilItIsLifted() async throws {
        let proxy = try PGFaultProxy(in: try await TestDB.server())
        defer { proxy.stop() }
        let c = try await PGConnection.connect(try await config(proxy))
        _ = try await c.queryOne("SELECT 1", as: Int.self)
        proxy.stall()
        let sent = proxy.statistics.bytesToServer
        let query = Task { try await c.queryOne("SELECT 7", as: Int.self) }
        try await Task.sleep(for: .milliseconds(400))
        #expect(proxy.statistics.bytesToServer == sent, "bytes passed a stall")
        proxy.pass()
        #expect(try await within(Promptly.bound, "query after the stall") { try await query.value } == 7)
        #expect(proxy.statistics.bytesToServer > sent)
        await c.close()
    }

    /// A pool of one behind a stall: the query that holds the connection hangs (its bytes are held), so a
    /// second caller's acquire fails within the acquire timeout with a typed, retry-safe error; once the
    /// stall is lifted the first query completes and the pool serves again.
    @Test func aPoolBehindAStallFailsAcquireWithinItsTimeoutAndRecovers() async throws {
        let proxy = try PGFaultProxy(in: try await TestDB.server())
        defer { proxy.stop() }
        let pool = PGPool(
            configuration: try await config(proxy),
            options: .init(pool: .init(minimumConnections: 0, maximumConnections: 1, acquireTimeout: .milliseconds(500))))
        #expect(try await pool.queryOne("SELECT 1", as: Int.self) == 1)
        proxy.stall()
        // A lease of its own (a plain query could share the connection): the second caller must wait for it.
        let held = Task { try await pool.withConnection { c in try await c.queryOne("SELECT 11", as: Int.self) } }
        try await Task.sleep(for: .milliseconds(100))
        let start = ContinuousClock.now
        do {
            _ = try await within(Promptly.bound, "acquire behind a stall") { try await pool.queryOne("SELECT 2", as: Int.self) }
            Issue.record("a second query ran while the only connection was stalled")
        } catch let e as PGError {
            #expect(e.code == .poolExhausted, "\(e)")
            #expect(e.isSafeToRetry)
        }
        let waited = ContinuousClock.now - start
        // Not before the acquire timeout; and at all (the only connection stays stalled until the test lifts it).
        #expect(waited >= .milliseconds(400) && waited < Promptly.bound, "acquire failed after \(waited)")
        proxy.pass()
        #expect(try await within(Promptly.bound, "held query") { try await held.value } == 11)
        #expect(try await pool.queryOne("SELECT 3", as: Int.self) == 3)
        await pool.shutdown()
    }

    /// A fresh pool whose first connect is stalled: the caller gets a typed error within the acquire
    /// timeout, not after the (60 s) connect timeout; after the stall the pool connects and serves.
    @Test func aFreshPoolBehindAStallFailsFastThenConnects() async throws {
        let proxy = try PGFaultProxy(in: try await TestDB.server(), flow: .stall)
        defer { proxy.stop() }
        let pool = PGPool(
            configuration: try await config(proxy, connectTimeout: .seconds(60)),
            options: .init(pool: .init(minimumConnections: 0, maximumConnections: 2, acquireTimeout: .milliseconds(500))))
        let start = ContinuousClock.now
        do {
            _ = try await within(Promptly.bound, "first acquire") { try await pool.queryOne("SELECT 1", as: Int.self) }
            Issue.record("connected through a stalled proxy")
        } catch let e as PGError {
            #expect(e.code == .poolExhausted || e.code == .timeout, "\(e)")
            #expect(e.isSafeToRetry, "\(e)")
        }
        // The connect timeout is 60 s: failing long before it means the acquire timeout ended the wait.
        #expect(ContinuousClock.now - start < Promptly.bound)
        #expect(proxy.statistics.accepted >= 1)
        proxy.pass()
        let value = try await within(Promptly.bound, "query after the stall") {
            var last: (any Error)?
            for _ in 0..<20 {
                do { return try await pool.queryOne("SELECT 5", as: Int.self) } catch { last = error }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw last ?? PGError(code: .timeout, message: "no attempt")
        }
        #expect(value == 5)
        await pool.shutdown()
    }

    /// Dropping (FIN) or resetting (RST) the proxied connection under an in-flight query fails that query
    /// with a typed error at once — no hang — and closes the connection.
    @Test(arguments: [false, true])
    func aDroppedOrResetConnectionFailsTheQueryInFlight(reset: Bool) async throws {
        let proxy = try PGFaultProxy(in: try await TestDB.server())
        defer { proxy.stop() }
        let c = try await PGConnection.connect(try await config(proxy))
        let query = Task { try await c.query("SELECT pg_sleep(\(Promptly.sleepSeconds))").collect() }
        try await Task.sleep(for: .milliseconds(300))
        let closed = reset ? proxy.resetConnections() : proxy.dropConnections()
        #expect(closed == 1)
        let start = ContinuousClock.now
        do {
            _ = try await within(Promptly.bound, "query after the \(reset ? "reset" : "drop")") { try await query.value }
            Issue.record("the query survived its connection")
        } catch let e as PGError {
            #expect(e.code == .connectionClosed, "\(e)")
        }
        #expect(ContinuousClock.now - start < Promptly.bound)
        #expect(c.isClosed)
        #expect(reset ? proxy.statistics.reset == 1 : proxy.statistics.dropped == 1)
    }

    /// A pool replaces connections the proxy dropped: the next query after a drop succeeds on a new one.
    @Test func aPoolReconnectsAfterADrop() async throws {
        let proxy = try PGFaultProxy(in: try await TestDB.server())
        defer { proxy.stop() }
        let pool = PGPool(
            configuration: try await config(proxy),
            options: .init(pool: .init(minimumConnections: 0, maximumConnections: 2, acquireTimeout: .seconds(5))))
        #expect(try await pool.queryOne("SELECT 1", as: Int.self) == 1)
        let before = proxy.statistics.accepted
        proxy.resetConnections()
        let value = try await within(Promptly.bound, "query after a reset") {
            // The first attempt may still pick the dead connection (its failure is typed); the next must work.
            for _ in 0..<5 {
                if let v = try? await pool.queryOne("SELECT 2", as: Int.self) { return v }
                try await Task.sleep(for: .milliseconds(50))
            }
            return try await pool.queryOne("SELECT 2", as: Int.self)
        }
        #expect(value == 2)
        #expect(proxy.statistics.accepted > before)
        await pool.shutdown()
    }

    @Test(arguments: [PGFaultProxy.Admission.close, .reset, .unanswered])
    func refusedConnectionsFailConnectWithATypedError(admission: PGFaultProxy.Admission) async throws {
        let proxy = try PGFaultProxy(in: try await TestDB.server(), admission: admission)
        defer { proxy.stop() }
        let config = try await config(proxy, connectTimeout: .milliseconds(700))
        let start = ContinuousClock.now
        do {
            let c = try await within(Promptly.bound, "connect (\(admission))") { try await PGConnection.connect(config) }
            await c.close()
            Issue.record("connected through a proxy that refuses (\(admission))")
        } catch let e as PGError {
            #expect(e.code == .connectionFailed || e.code == .connectionClosed || e.code == .timeout, "\(admission): \(e)")
        }
        #expect(ContinuousClock.now - start < Promptly.bound, "\(admission)")
        #expect(proxy.statistics.accepted == 0)
        #expect(admission == .unanswered ? proxy.statistics.refused == 0 : proxy.statistics.refused >= 1)
        proxy.setAdmission(.accept)
        let c = try await within(Promptly.bound, "connect after admission") { try await PGConnection.connect(config) }
        #expect(try await c.queryOne("SELECT 9", as: Int.self) == 9)
        await c.close()
    }

    @Test func stopClosesEverythingAndIsIdempotent() async throws {
        let proxy = try PGFaultProxy(in: try await TestDB.server())
        let c = try await PGConnection.connect(try await config(proxy))
        let port = proxy.port
        proxy.stop()
        proxy.stop()
        #expect(!proxy.isRunning)
        // The client's connection is gone …
        do {
            _ = try await within(Promptly.bound, "query after stop") { try await c.queryOne("SELECT 1", as: Int.self) }
            Issue.record("query through a stopped proxy")
        } catch let e as PGError {
            #expect(e.code == .connectionClosed, "\(e)")
        }
        // … and nothing listens on the port any more.
        var refused = try PGConnectionConfiguration(url: "postgres://u@127.0.0.1:\(port)/db?sslmode=disable")
        refused.connectTimeout = .seconds(2)
        await #expect(throws: PGError.self) { _ = try await PGConnection.connect(refused) }
        // Switches after stop return at once.
        proxy.stall()
        #expect(proxy.dropConnections() == 0)
    }
}
