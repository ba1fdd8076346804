import Foundation
import PGClient
import PGRateLimiter
import PGStoreSupport
import PGTestSupport
import Testing

/// A store in a schema of its own on the shared test server, created by the store itself (`autoCreate`).
struct LimiterFixture {
    let pg: TemporaryPostgres
    let schema: String
    let store: PGRateLimiterStore
    let admin: PGConnection

    static func make(_ options: PGRateLimiterStore.Configuration? = nil) async throws -> LimiterFixture {
        let pg = try await TemporaryPostgres.shared()
        let schema = "rl_\(UInt32.random(in: 0...UInt32.max))"
        var configuration = options ?? PGRateLimiterStore.Configuration()
        configuration.schemaName = schema
        configuration.autoCreate = true
        let store = try PGRateLimiterStore(.url(pg.url()), configuration: configuration)
        try await store.start()
        let admin = try await PGConnection.connect(try PGConnectionConfiguration(url: pg.url()))
        return LimiterFixture(pg: pg, schema: schema, store: store, admin: admin)
    }

    var clock: PGStoreClock { PGStoreClock(schema: try! PGStoreIdentifier(schema)) }

    func advance(_ d: Duration) async throws { try await clock.advance(by: d, on: admin) }

    func finish() async {
        await store.shutdown()
        _ = try? await admin.simpleQuery("DROP SCHEMA \"\(schema)\" CASCADE")
        await admin.close()
    }
}

@Suite struct RateLimiterTests {
    @Test func gcraAdmitsTheBurstThenSpacesRequestsByTheDatabaseClock() async throws {
        let f = try await LimiterFixture.make()
        // One per minute, three at once: real time passing during the test does not add a token.
        let limiter = try f.store.limiter("api", .perSecond(1.0 / 60, burst: 3))
        var admitted = 0
        for _ in 0..<3 { if try await limiter.tryAcquire().admitted { admitted += 1 } }
        #expect(admitted == 3)
        let denied = try await limiter.tryAcquire()
        #expect(!denied.admitted)
        #expect(denied.retryAfter > .seconds(50) && denied.retryAfter <= .seconds(60), "\(denied.retryAfter)")
        // Move the database's clock, not the test's: one more token after a minute.
        try await f.advance(.seconds(60))
        #expect(try await limiter.tryAcquire().admitted)
        #expect(try await limiter.tryAcquire().admitted == false)
        await f.finish()
    }

    @Test func costIsWeighedAndRemainingIsReported() async throws {
        let f = try await LimiterFixture.make()
        let limiter = try f.store.limiter("weighted", .perSecond(1.0 / 60, burst: 5))
        guard case .admitted(let first) = try await limiter.tryAcquire(cost: 3) else {
            Issue.record("cost 3 of 5 was denied")
            return
        }
        #expect(first.remaining == 2)
        #expect(first.admittedAt != nil)
        #expect(try await limiter.tryAcquire(cost: 3).admitted == false)
        #expect(try await limiter.tryAcquire(cost: 2).admitted)
        await #expect(throws: PGStoreError.self) { _ = try await limiter.tryAcquire(cost: 6) }
        await f.finish()
    }

    @Test func acquireWaitsUntilTheRetryAfterAndTimesOut() async throws {
        let f = try await LimiterFixture.make()
        let limiter = try f.store.limiter("paced", .perSecond(20))
        let started = ContinuousClock.now
        for _ in 0..<5 { _ = try await limiter.acquire(timeout: .seconds(5)) }
        // Five at 20/s, burst 1: the last one at least 4 × 50 ms after the first.
        #expect(ContinuousClock.now - started >= .milliseconds(190))
        let slow = try f.store.limiter("slow", .perSecond(0.1))
        _ = try await slow.acquire()
        let error = await #expect(throws: PGStoreError.self) { _ = try await slow.acquire(timeout: .milliseconds(200)) }
        #expect(error?.code == .timeout)
        await f.finish()
    }

    @Test func perKeyLimitsAreIndependent() async throws {
        let f = try await LimiterFixture.make()
        let limiter = try f.store.limiter("per-user", .perSecond(1.0 / 60))
        for k in 0..<50 {
            #expect(try await limiter.tryAcquire(key: "user-\(k)").admitted)
            #expect(try await limiter.tryAcquire(key: "user-\(k)").admitted == false)
        }
        let keys = try await f.admin.queryOne(
            "SELECT count(*)::int8 FROM \(identifier: f.schema).rate_limiter_state WHERE group_id = 'per-user'", as: Int64.self)
        #expect(keys == 50)
        await f.finish()
    }

    @Test func fixedAndSlidingWindows() async throws {
        let f = try await LimiterFixture.make()
        let fixed = try f.store.limiter("fixed", .fixedWindow(5, per: .seconds(3_600)))
        for _ in 0..<5 { #expect(try await fixed.tryAcquire().admitted) }
        let denied = try await fixed.tryAcquire()
        #expect(!denied.admitted && denied.retryAfter <= .seconds(3_600))
        try await f.advance(.seconds(3_600))
        #expect(try await fixed.tryAcquire().admitted)

        let sliding = try f.store.limiter("sliding", .slidingWindow(10, per: .seconds(3_600)))
        try await f.clock.reset(on: f.admin)
        // Align to the start of a window so the weighting below is predictable.
        let now = try await f.clock.now(on: f.admin).timeIntervalSince1970
        try await f.advance(.seconds(3_600 - now.truncatingRemainder(dividingBy: 3_600) + 1))
        for _ in 0..<10 { #expect(try await sliding.tryAcquire().admitted) }
        #expect(try await sliding.tryAcquire().admitted == false)
        // Next window: the previous 10 still weigh almost fully.
        try await f.advance(.seconds(3_600))
        #expect(try await sliding.tryAcquire().admitted == false)
        // Halfway through it: 10 × 0.5 = 5 in the estimate, so 5 more fit.
        try await f.advance(.seconds(1_800))
        var admitted = 0
        for _ in 0..<8 { if try await sliding.tryAcquire().admitted { admitted += 1 } }
        #expect(admitted == 5)
        await f.finish()
    }

    @Test func concurrencySlotsAreLeasesWithFencing() async throws {
        let f = try await LimiterFixture.make()
        let limiter = try f.store.limiter("slots", .concurrency(2))
        let a = try await limiter.acquire()
        let b = try await limiter.acquire()
        #expect(a.slot != nil && b.slot != nil && a.slot != b.slot)
        #expect(try await limiter.tryAcquire().admitted == false)
        try await b.release()
        guard case .admitted(let c) = try await limiter.tryAcquire() else {
            Issue.record("a released slot was not free")
            return
        }
        // a's holder stops renewing (as if its process died): after the lease, its slot is free again.
        try await f.advance(.seconds(31))
        guard case .admitted(let d) = try await limiter.tryAcquire() else {
            Issue.record("an expired lease did not free its slot")
            return
        }
        // The old holder is fenced: its release changes nothing.
        let error = await #expect(throws: PGStoreError.self) { try await a.release() }
        #expect(error?.code == .fenced)
        #expect(d.fencingToken! > a.fencingToken!)
        try await c.release()
        try await d.release()
        await f.finish()
    }

    @Test func aWaiterIsWokenByAReleaseInAnotherStore() async throws {
        let f = try await LimiterFixture.make()
        let limiter = try f.store.limiter("one", .concurrency(1))
        // A second store: another process as far as the database is concerned (its own pool and LISTEN).
        var configuration = PGRateLimiterStore.Configuration()
        configuration.schemaName = f.schema
        let other = try PGRateLimiterStore(.url(f.pg.url()), configuration: configuration)
        try await other.start()
        let held = try await other.limiter("one", .concurrency(1)).acquire()
        let started = ContinuousClock.now
        let waiter = Task { try await limiter.acquire(timeout: .seconds(20)) }
        try await Task.sleep(for: .milliseconds(300))
        try await held.release()
        let permit = try await waiter.value
        // The lease is 30 s: only the NOTIFY can have woken it this early.
        #expect(ContinuousClock.now - started < .seconds(10))
        try await permit.release()
        await other.shutdown()
        await f.finish()
    }

    @Test func withPermitReleasesOnEveryExitPath() async throws {
        let f = try await LimiterFixture.make()
        let limiter = try f.store.limiter("scoped", .concurrency(1))
        struct Boom: Error {}
        await #expect(throws: Boom.self) { try await limiter.withPermit { throw Boom() } }
        let n = try await limiter.withPermit { 42 }
        #expect(n == 42)
        let held = try await f.admin.queryOne(
            "SELECT count(*)::int8 FROM \(identifier: f.schema).rate_limiter_slots WHERE holder IS NOT NULL", as: Int64.self)
        #expect(held == 0)
        await f.finish()
    }

    @Test func aMissingSchemaIsATypedErrorAtStart() async throws {
        let pg = try await TemporaryPostgres.shared()
        var configuration = PGRateLimiterStore.Configuration()
        configuration.schemaName = "rl_missing_\(UInt32.random(in: 0...UInt32.max))"
        let store = try PGRateLimiterStore(.url(pg.url()), configuration: configuration)
        let error = await #expect(throws: PGStoreError.self) { try await store.start() }
        #expect(error?.code == .schemaMissing)
        #expect(error?.message.contains("tusk setup ratelimit") == true, "\(String(describing: error))")
        await store.shutdown()
    }

    @Test(arguments: [PGRateLimiter.FailureMode.failClosed, .failOpen])
    func anUnreachableDatabaseAnswersWithinTheTimeout(_ mode: PGRateLimiter.FailureMode) async throws {
        let f = try await LimiterFixture.make()
        // A store whose pool points at a port nobody listens on.
        let port = try await Self.closedPort()
        var configuration = PGRateLimiterStore.Configuration()
        configuration.schemaName = f.schema
        let dead = try PGRateLimiterStore(.url("postgres://nobody@127.0.0.1:\(port)/x?connect_timeout=1"), configuration: configuration)
        let limiter = try dead.limiter("api", .perSecond(100), options: .init(statementTimeout: .seconds(1), onDatabaseFailure: mode))
        let started = ContinuousClock.now
        if mode == .failOpen {
            let permit = try await limiter.acquire(timeout: .seconds(2))
            #expect(permit.failedOpen)
        } else {
            let error = await #expect(throws: PGStoreError.self) { _ = try await limiter.acquire(timeout: .seconds(2)) }
            #expect(error?.code == .unavailable || error?.code == .timeout, "\(String(describing: error))")
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        await dead.shutdown()
        await f.finish()
    }

    @Test func shadowModeAdmitsWhatItWouldDeny() async throws {
        let f = try await LimiterFixture.make()
        // One per minute: without shadow mode the second acquire would wait a minute (and time out).
        let limiter = try f.store.limiter("shadow", .perSecond(1.0 / 60), options: .init(shadow: true))
        _ = try await limiter.acquire()
        let started = ContinuousClock.now
        let second = try await limiter.acquire(timeout: .seconds(20))
        #expect(second.shadow)
        #expect(ContinuousClock.now - started < .seconds(15))
        await f.finish()
    }

    /// Many tasks on one hot key for a while: no window of one second (by the database's admission times) holds
    /// more than rate + burst admissions, and the limiter admits close to what the rate allows.
    @Test func neverOverTheLimitFromManyTasks() async throws {
        let f = try await LimiterFixture.make()
        let rate = 50.0
        let limiter = try f.store.limiter("hot", .perSecond(rate, burst: 5))
        let until = ContinuousClock.now + .seconds(3)
        let times = try await withThrowingTaskGroup(of: [Date].self) { group in
            for _ in 0..<16 {
                group.addTask {
                    var mine: [Date] = []
                    while ContinuousClock.now < until {
                        let p = try await limiter.acquire(timeout: .seconds(5))
                        if let at = p.admittedAt { mine.append(at) }
                    }
                    return mine
                }
            }
            var all: [Date] = []
            for try await t in group { all += t }
            return all.sorted()
        }
        var worst = 0
        var j = 0
        for i in times.indices {
            while j < times.count, times[j].timeIntervalSince(times[i]) < 1 { j += 1 }
            worst = max(worst, j - i)
        }
        #expect(worst <= Int(rate) + 5, "a one-second window held \(worst) admissions")
        let span = (times.last ?? Date()).timeIntervalSince(times.first ?? Date())
        // (The 95% bound is checked from four processes in MultiProcessTests; one loaded process gets less.)
        #expect(Double(times.count) >= 0.8 * (rate * span + 5), "\(times.count) admissions in \(span) s")
        await f.finish()
    }

    static func closedPort() async throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
