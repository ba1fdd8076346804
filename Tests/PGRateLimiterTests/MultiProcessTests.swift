import Foundation
import PGClient
import PGRateLimiter
import PGStoreSupport
import PGTestSupport
import Testing

/// Worker processes sharing one limiter through one database; crashes are SIGKILLs; the ledger is the
/// admissions the workers report with the database's decision times.
@Suite(.serialized) struct MultiProcessTests {
    /// How long each hammering run lasts (the issue's 20 s; `TUSK_LIMITER_TEST_SECONDS` shortens it).
    static let seconds = Int(ProcessInfo.processInfo.environment["TUSK_LIMITER_TEST_SECONDS"] ?? "") ?? 20

    /// Admission times (µs) of every worker, sorted.
    static func admissions(_ workers: [PGWorkerProcess], key: String? = nil) -> [Int64] {
        workers.flatMap { w in
            w.events.filter { $0.name == "admit" && (key == nil || $0["key"] == key) }.compactMap { $0["at"].flatMap(Int64.init) }
        }.sorted()
    }

    /// The most admissions in any window [t, t + 1 s) that starts at an admission.
    static func worstSecond(_ times: [Int64]) -> Int {
        var worst = 0, j = 0
        for i in times.indices {
            while j < times.count, times[j] - times[i] < 1_000_000 { j += 1 }
            worst = max(worst, j - i)
        }
        return worst
    }

    static func hammer(_ f: LimiterFixture, limiter: String, rate: Double, burst: Int, keys: Int = 0,
                       workers: Int = 4, tasks: Int = 16, seconds: Int) async throws -> [PGWorkerProcess] {
        let started = try PGWorkerProcess.start(count: workers, "ratelimit") { _ in
            ["--url", f.pg.url(), "--schema", f.schema, "--limiter", limiter, "--rate", String(rate), "--burst", String(burst),
             "--tasks", String(tasks), "--seconds", String(seconds), "--keys", String(keys), "--pool", "4"]
        }
        for w in started {
            let done = try await w.waitForEvent(named: "done", timeout: .seconds(seconds + 60))
            #expect(done["admitted"] != nil, "\(w.summary())")
            _ = try await w.waitForExit(timeout: .seconds(10))
        }
        return started
    }

    @Test(arguments: [20.0, 100.0, 1_000.0])
    func neverOverTheLimitFromFourProcesses(rate: Double) async throws {
        let f = try await LimiterFixture.make()
        let burst = max(1, Int(rate / 20))
        let workers = try await Self.hammer(f, limiter: "hot", rate: rate, burst: burst, seconds: Self.seconds)
        let times = Self.admissions(workers)
        let worst = Self.worstSecond(times)
        #expect(worst <= Int(rate) + burst, "rate \(rate): a one-second window held \(worst) admissions (limit \(Int(rate) + burst))")
        let span = Double((times.last ?? 0) - (times.first ?? 0)) / 1e6
        let allowed = rate * span + Double(burst)
        #expect(Double(times.count) >= 0.95 * allowed, "rate \(rate): \(times.count) admissions in \(span) s, \(allowed) allowed")
        print("ratelimit \(rate)/s: \(times.count) admissions in \(String(format: "%.2f", span)) s "
              + "(\(String(format: "%.1f", 100 * Double(times.count) / allowed))% of the allowance), worst second \(worst)")
        await f.finish()
    }

    @Test func tenThousandKeysEachKeepTheirOwnLimit() async throws {
        let f = try await LimiterFixture.make()
        let (rate, burst) = (2.0, 2)
        let workers = try await Self.hammer(f, limiter: "per-key", rate: rate, burst: burst, keys: 10_000,
                                            seconds: max(3, Self.seconds / 4))
        var perKey: [String: [Int64]] = [:]
        for w in workers {
            for e in w.events where e.name == "admit" {
                if let k = e["key"], let at = e["at"].flatMap(Int64.init) { perKey[k, default: []].append(at) }
            }
        }
        #expect(perKey.count > 1_000, "only \(perKey.count) keys were admitted")
        var worst = 0
        for (_, times) in perKey { worst = max(worst, Self.worstSecond(times.sorted())) }
        #expect(worst <= Int(rate) + burst, "a key's one-second window held \(worst)")
        let rows = try await f.admin.queryOne(
            "SELECT count(*)::int8 FROM \(identifier: f.schema).rate_limiter_state WHERE group_id = 'per-key'", as: Int64.self)
        #expect(rows == Int64(perKey.count))
        await f.finish()
    }

    /// A worker SIGKILLed while it holds the only slot: the slot comes back when its lease runs out, with no
    /// help from anyone.
    @Test func aSlotHeldByAKilledProcessReturnsAfterItsLease() async throws {
        let f = try await LimiterFixture.make()
        let worker = try PGWorkerProcess.start("ratelimit", arguments: [
            "--url", f.pg.url(), "--schema", f.schema, "--limiter", "one", "--max-concurrent", "1", "--lease-ms", "2000",
            "--hold-forever",
        ])
        _ = try await worker.waitForEvent(named: "holding", timeout: .seconds(30))
        let limiter = try f.store.limiter("one", .concurrency(1), options: .init(lease: .seconds(2)))
        #expect(try await limiter.tryAcquire().admitted == false)
        worker.kill()
        _ = try await worker.waitForExit(timeout: .seconds(10))
        let killed = ContinuousClock.now
        let permit = try await limiter.acquire(timeout: .seconds(15))
        let waited = ContinuousClock.now - killed
        #expect(waited <= .seconds(5), "the slot came back after \(waited), lease 2 s")
        #expect(permit.slot == 0)
        try await permit.release()
        await f.finish()
    }

    /// The database stalls (a proxy holds every byte): acquire answers within its timeout — a typed error
    /// when failing closed, an admission when failing open — and works again once the stall ends.
    @Test(arguments: [PGRateLimiter.FailureMode.failClosed, .failOpen])
    func aStalledDatabaseAnswersWithinTheTimeout(_ mode: PGRateLimiter.FailureMode) async throws {
        let f = try await LimiterFixture.make()
        let proxy = try PGFaultProxy(targetPort: f.pg.port)
        defer { proxy.stop() }
        var configuration = PGRateLimiterStore.Configuration()
        configuration.schemaName = f.schema
        let url = "postgres://\(TemporaryPostgres.Role.trust.name)@127.0.0.1:\(proxy.port)/\(TemporaryPostgres.databaseName)?sslmode=disable&connect_timeout=2"
        let store = try PGRateLimiterStore(.url(url), configuration: configuration)
        try await store.start()
        let limiter = try store.limiter("api", .perSecond(1_000),
                                        options: .init(statementTimeout: .milliseconds(500), onDatabaseFailure: mode))
        #expect(try await limiter.acquire(timeout: .seconds(2)).failedOpen == false)
        proxy.stall()
        let started = ContinuousClock.now
        if mode == .failOpen {
            #expect(try await limiter.acquire(timeout: .seconds(1)).failedOpen)
        } else {
            let error = await #expect(throws: PGStoreError.self) { _ = try await limiter.acquire(timeout: .seconds(1)) }
            #expect(error?.code == .timeout || error?.code == .unavailable, "\(String(describing: error))")
        }
        #expect(ContinuousClock.now - started < .seconds(3), "answered after \(ContinuousClock.now - started)")
        proxy.pass()
        // Recovered: admitted again, from the database.
        let deadline = ContinuousClock.now + .seconds(15)
        var recovered = false
        while ContinuousClock.now < deadline {
            if let p = try? await limiter.acquire(timeout: .seconds(2)), !p.failedOpen { recovered = true; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(recovered)
        await store.shutdown()
        await f.finish()
    }
}
