import Foundation
import PGCircuitBreaker
import PGClient
import PGStoreSupport
import PGTestSupport
import Synchronization
import Testing

extension CircuitBreakerSuites {
@Suite struct BreakerTests {
    /// 5 failures of the last 10 calls open it — not 1 of 2 (Python's reduced Fraction) and not 4 of 9;
    /// the cooldown ends on the database clock; 2 successful probes of 3 close it again.
    @Test func closedOpenHalfOpenClosedWithExactThresholds() async throws {
        let f = try await BreakerFixture.make()
        let b = try f.store.breaker("payment_service",
                                    policy: PGBreakerPolicy(cooldown: .seconds(60), failureLimit: PGBreakerFraction(5, 10),
                                                            successLimit: PGBreakerFraction(2, 3)))
        // F F: a 2-call window at 1/2 would open here.
        for _ in 0..<2 { #expect(try await call(b, fails: true)) }
        await f.store.flush()
        #expect(b.state == .closed)
        // S S S S S F F (9 calls, 4 failures): still closed.
        for _ in 0..<5 { try await call(b, fails: false) }
        for _ in 0..<2 { try await call(b, fails: true) }
        await f.store.flush()
        #expect(b.state == .closed)
        #expect(try await f.row("payment_service").failures == 4)
        // Four more successes push the first two failures out of the 10-call window: 2 failures left.
        for _ in 0..<4 { try await call(b, fails: false) }
        await f.store.flush()
        #expect(try await f.row("payment_service").failures == 2)
        #expect(b.state == .closed)
        // Three failures: 5 of the last 10 → OPEN, decided by the database.
        for _ in 0..<3 { try await call(b, fails: true) }
        await f.store.flush()
        #expect(b.state == .open)
        let opened = try await f.row("payment_service")
        #expect(opened.state == "OPEN" && opened.failures == 5)
        #expect(try await call(b, fails: false) == false, "an open breaker refuses without asking anyone")
        // Not yet: 59 s later on the database clock it is still open.
        try await f.advance(.seconds(59))
        await f.store.refreshNow()
        #expect(try await f.row("payment_service").state == "OPEN")
        try await f.advance(.seconds(2))
        await f.store.refreshNow()
        #expect(try await f.row("payment_service").state == "HALF_OPEN")
        #expect(b.state == .halfOpen)
        // Two successful probes of three close it.
        #expect(try await call(b, fails: false))
        #expect(b.state == .halfOpen)
        #expect(try await call(b, fails: false))
        #expect(b.state == .closed)
        #expect(try await f.row("payment_service").state == "CLOSED")
        let log = try await f.store.transitions(of: "payment_service")
        #expect(log.reversed().map { "\($0.from.rawValue)>\($0.to.rawValue)" } == ["CLOSED>OPEN", "OPEN>HALF_OPEN", "HALF_OPEN>CLOSED"])
        #expect(log.allSatisfy { $0.who == "instance-0" })
        await f.finish()
    }

    /// A failed probe opens it again, and a growing cooldown doubles.
    @Test func aFailedProbeReopensWithAGrowingCooldown() async throws {
        let f = try await BreakerFixture.make()
        var policy = PGBreakerPolicy(cooldown: .seconds(10), failureLimit: PGBreakerFraction(2, 4))
        policy.cooldownGrowth = 2
        let b = try f.store.breaker("grow", policy: policy)
        for _ in 0..<2 { try await call(b, fails: true) }
        await f.store.flush()
        #expect(b.state == .open)
        func remaining() async throws -> Double {
            try await f.admin.queryOne("SELECT extract(epoch FROM open_until - \(identifier: f.schema).tusk_now())::float8 FROM \(identifier: f.schema).rc_circuit_breakers WHERE resource_key = 'grow'",
                                       as: Double.self)
        }
        let first = try await remaining()
        #expect(first > 9 && first <= 10, "first cooldown \(first) s")
        try await f.advance(.seconds(11))
        await f.store.refreshNow()
        #expect(try await call(b, fails: true))   // the probe, failed
        #expect(b.state == .open)
        let second = try await remaining()
        #expect(second > 19 && second <= 20, "second cooldown \(second) s")
        await f.finish()
    }

    /// resilient-circuit's bug: a writer that has not seen a fresh OPEN overwrote it with CLOSED. Here a
    /// stale writer carries the generation it saw; 50 forced races, and the OPEN survives every one.
    @Test func aStaleClosedWriterNeverOverwritesAFreshOpen() async throws {
        let f = try await BreakerFixture.make(instances: 3)
        let policy = PGBreakerPolicy(cooldown: .seconds(600), failureLimit: PGBreakerFraction(5, 10))
        let tripper = try f.stores[1].breaker("shared", policy: policy)
        let observer = try f.stores[2].breaker("shared", policy: policy)
        _ = try f.store.breaker("shared", policy: policy)
        let stale = try await PGConnection.connect(try PGConnectionConfiguration(url: f.pg.url()))
        let flushSQL = "SELECT o_state FROM \(f.schema).rc_circuit_breaker_flush($1, $2, 10, 0, 0, $3::boolean[], $3::boolean[], 10, 0, 1, 5, 10, 0, 0, 0, 600000, 1, 600000, 1, 'stale', 'none')"
        let successes = [Bool](repeating: false, count: 10)
        for iteration in 0..<50 {
            try await f.store.reset("shared")
            let seen = try await f.row("shared").generation
            #expect(await eventually { tripper.generation == seen && tripper.state == .closed })
            for _ in 0..<5 { try await call(tripper, fails: true) }
            // The trip and a stale CLOSED writer (successes at the generation it saw) at the same moment.
            async let trip: Void = f.stores[1].flush()
            async let write: Void = drain(stale, PGQuery(unsafeSQL: flushSQL, ["shared", seen, successes]))
            _ = try await (trip, write)
            // Late outcomes, a late probe result and a late reconcile of the old generation, after the OPEN.
            try await drain(stale, PGQuery(unsafeSQL: flushSQL, ["shared", seen, successes]))
            try await drain(stale, PGQuery(unsafeSQL: "SELECT * FROM \(f.schema).rc_circuit_breaker_probe_result('shared', $1, true, 1, 1, 1, 1, 1, 'stale', 'none')", [seen]))
            try await drain(stale, PGQuery(unsafeSQL: "SELECT * FROM \(f.schema).rc_circuit_breaker_admin('shared', 'OPEN', $1, 1, 1, 'stale', 'late publish', 'none')", [seen]))
            let row = try await f.row("shared")
            #expect(row.state == "OPEN" && row.generation == seen + 1, "iteration \(iteration): \(row)")
            #expect(await eventually { observer.state == .open }, "iteration \(iteration): the third instance sees the OPEN")
        }
        await stale.close()
        await f.finish()
    }

    /// After the cooldown, 4 instances × 8 tasks call at once: exactly K = 3 probes run cluster-wide, 50 times.
    @Test func exactlyKProbesAreAdmittedAcrossTheCluster() async throws {
        let f = try await BreakerFixture.make(instances: 4)
        let policy = PGBreakerPolicy(cooldown: .seconds(30), failureLimit: PGBreakerFraction(5, 10), successLimit: PGBreakerFraction(3, 3))
        let breakers = try f.stores.map { try $0.breaker("probe", policy: policy) }
        var counts: [Int] = []
        for _ in 0..<50 {
            try await f.store.open("probe", for: .seconds(30))
            try await f.advance(.seconds(31))
            for s in f.stores { await s.refreshNow() }
            #expect(await eventually { breakers.allSatisfy { $0.state == .halfOpen } })
            let entered = Shared(0)
            let gate = Shared(false)
            let decided = Shared(0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for b in breakers {
                    for _ in 0..<8 {
                        group.addTask {
                            do {
                                try await b.run {
                                    entered.update { $0 += 1 }
                                    decided.update { $0 += 1 }
                                    while !gate.value { try await Task.sleep(for: .milliseconds(2)) }
                                }
                            } catch is PGBreakerOpenError {
                                decided.update { $0 += 1 }
                            }
                        }
                    }
                }
                _ = await eventually(.seconds(10)) { decided.value == 32 }
                counts.append(entered.value)
                gate.update { $0 = true }
                try await group.waitForAll()
            }
            #expect(try await f.row("probe").state == "CLOSED")
        }
        #expect(counts.allSatisfy { $0 == 3 }, "probes admitted per run: \(counts)")
        print("breaker: probes admitted cluster-wide over \(counts.count) runs: \(Set(counts).sorted()) (K = 3)")
        await f.finish()
    }

    /// A probe whose process died never reports: after the probe timeout, the permits are handed out again.
    @Test func probesThatNeverReportAreHandedOutAgainAfterTheProbeTimeout() async throws {
        let f = try await BreakerFixture.make()
        var policy = PGBreakerPolicy(cooldown: .seconds(10), failureLimit: PGBreakerFraction(5, 10))
        policy.probeTimeout = .seconds(5)
        let b = try f.store.breaker("dead", policy: policy)
        try await f.store.open("dead", for: .seconds(10))
        try await f.advance(.seconds(11))
        // Another process takes the only permit and is killed before it reports.
        let granted = try await f.admin.queryOne(
            "SELECT o_granted FROM \(identifier: f.schema).rc_circuit_breaker_probe('dead', 'ghost', 'none', 5000, 1)", as: Bool.self)
        #expect(granted)
        await f.store.refreshNow()
        #expect(b.state == .halfOpen)
        #expect(try await call(b, fails: false) == false, "the one permit is taken")
        try await f.advance(.seconds(6))
        try await Task.sleep(for: .milliseconds(80))   // the local "permits taken" note lasts one flush interval
        #expect(try await call(b, fails: false), "a new round after the probe timeout")
        #expect(b.state == .closed)
        let whys = try await f.store.transitions(of: "dead").map(\.why)
        #expect(whys.contains("probes did not report in time; new round"), "\(whys)")
        await f.finish()
    }

    /// Slow calls count too: 3 of 4 calls slower than 20 ms open it, though none failed.
    @Test func aSlowCallRateOpensTheBreaker() async throws {
        let f = try await BreakerFixture.make()
        var policy = PGBreakerPolicy(cooldown: .seconds(30), failureLimit: PGBreakerFraction(5, 10))
        policy.slowCallDuration = .milliseconds(20)
        policy.slowCallLimit = PGBreakerFraction(3, 4)
        policy.minimumCalls = 4
        let b = try f.store.breaker("slow", policy: policy)
        try await b.run {}
        for _ in 0..<2 { try await b.run { try await Task.sleep(for: .milliseconds(30)) } }
        await f.store.flush()
        #expect(b.state == .closed, "2 slow of 3 calls: under the minimum of 4")
        try await b.run { try await Task.sleep(for: .milliseconds(30)) }
        await f.store.flush()
        #expect(b.state == .open)
        #expect(try await f.store.list().first?.reason.contains("slow") == true)
        await f.finish()
    }

    /// Forced open, disabled, closed and reset from code; a time window with a minimum number of calls.
    @Test func adminStatesAndTimeWindows() async throws {
        let f = try await BreakerFixture.make(instances: 2)
        var policy = PGBreakerPolicy(cooldown: .seconds(5), failureLimit: PGBreakerFraction(1, 2))
        policy.timeWindow = .seconds(10)
        policy.minimumCalls = 6
        let b = try f.stores[1].breaker("admin", policy: policy)
        _ = try f.store.breaker("admin", policy: policy)
        // 5 failures are not enough calls; the sixth call (a success) makes 5 of 6 ≥ 1/2.
        for _ in 0..<5 { try await call(b, fails: true) }
        await f.stores[1].flush()
        #expect(b.state == .closed)
        try await call(b, fails: false)
        await f.stores[1].flush()
        #expect(b.state == .open)
        try await f.store.forceOpen("admin", why: "incident")
        #expect(await eventually { b.state == .forcedOpen })
        try await f.advance(.seconds(3_600))
        await f.store.refreshNow()
        #expect(try await call(b, fails: false) == false, "forced open stays open past any cooldown")
        try await f.store.disable("admin")
        #expect(await eventually { b.state == .disabled })
        for _ in 0..<20 { #expect(try await call(b, fails: true)) }
        await f.stores[1].flush()
        #expect(b.state == .disabled)
        try await f.store.reset("admin")
        #expect(await eventually { b.state == .closed })
        let listed = try await f.store.list()
        #expect(listed.map(\.resourceKey) == ["admin"] && listed[0].state == .closed)
        let log = try await f.store.transitions(of: "admin")
        #expect(log.map(\.to).reversed() == [.open, .forcedOpen, .disabled, .closed])
        #expect(log.first?.why == "reset by an administrator")
        await f.finish()
    }

    /// The seed's configuration: RC_DB_* with its defaults, from the environment or a `.env` file; none → memory.
    @Test func configurationFromRCDBVariablesAndDotEnv() async throws {
        if case .some = try PGBreakerStore.connection(environment: [:], dotEnvPath: nil) { Issue.record("a connection without RC_DB_HOST") }
        let memory = try PGBreakerStore.fromEnvironment(environment: [:], dotEnvPath: nil)
        #expect(memory.storageStatus == .memory)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rc-\(UInt32.random(in: 0...UInt32.max)).env").path
        try "# resilient-circuit\nRC_DB_HOST=db.internal\nexport RC_DB_PASSWORD='it''s'\nRC_DB_USER=\"svc\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard case .configuration(let c)? = try PGBreakerStore.connection(environment: ["RC_DB_PORT": "6543"], dotEnvPath: path) else {
            Issue.record("no configuration from the .env file")
            return
        }
        #expect(c.hosts.first == .tcp(host: "db.internal", port: 6543))
        #expect(c.database == "resilient_circuit_db" && c.user == "svc" && c.password == "it''s")
        #expect(throws: PGStoreError.self) { _ = try PGBreakerStore.connection(environment: ["RC_DB_HOST": "h", "RC_DB_PORT": "x"], dotEnvPath: nil) }
        // In memory: the same rules, decided locally.
        let b = try memory.breaker("local", policy: PGBreakerPolicy(cooldown: .seconds(60), failureLimit: PGBreakerFraction(5, 10)))
        for _ in 0..<4 { try await call(b, fails: true) }
        #expect(b.state == .closed)
        try await call(b, fails: true)
        #expect(b.state == .open)
        #expect(try await call(b, fails: false) == false)
    }
}
}
