import Foundation
import PGCircuitBreaker
import PGClient
import PGStoreSupport
import PGTestSupport
import Testing

extension CircuitBreakerSuites {
/// The database stalls (a proxy holds every byte): calls keep being decided without waiting on it, the
/// status says so, a local OPEN is decided from local evidence, and once the database answers again the
/// local OPEN is published and the shared state taken back.
@Suite struct FallbackTests {
    /// How the database goes away: stalled (every byte held) or stopped (connections dropped, new ones refused).
    enum Outage: String, Sendable, CaseIterable { case stalled, stopped }

    static func begin(_ outage: Outage, _ proxy: PGFaultProxy) {
        switch outage {
        case .stalled: proxy.stall()
        case .stopped:
            proxy.setAdmission(.close)
            _ = proxy.dropConnections()
        }
    }

    static func end(_ outage: Outage, _ proxy: PGFaultProxy) {
        switch outage {
        case .stalled: proxy.pass()
        case .stopped: proxy.setAdmission(.accept)
        }
    }

    @Test(arguments: Outage.allCases)
    func anUnreachableDatabaseFallsBackLoudlyAndReconciles(_ outage: Outage) async throws {
        let f = try await BreakerFixture.make()
        let proxy = try PGFaultProxy(targetPort: f.pg.port)
        defer { proxy.stop() }
        var configuration = PGBreakerStore.Configuration(schemaName: f.schema)
        configuration.statementTimeout = .milliseconds(300)
        configuration.refreshInterval = .milliseconds(500)
        configuration.instanceName = "proxied"
        let url = "postgres://\(TemporaryPostgres.Role.trust.name)@127.0.0.1:\(proxy.port)/\(TemporaryPostgres.databaseName)?sslmode=disable&connect_timeout=2"
        let store = try PGBreakerStore(.url(url), configuration: configuration)
        try await store.start()
        let policy = PGBreakerPolicy(cooldown: .seconds(120), failureLimit: PGBreakerFraction(5, 10))
        let b = try store.breaker("flaky", policy: policy)
        let peer = try f.store.breaker("flaky", policy: policy)
        try await call(b, fails: false)
        await store.flush()
        #expect(store.storageStatus == .database)

        Self.begin(outage, proxy)
        // Calls are answered at local speed the whole time; the first flush that cannot finish switches to fallback.
        var slowest: Duration = .zero
        var refusedAt: Int?
        let deadline = ContinuousClock.now + .seconds(10)
        var i = 0
        while ContinuousClock.now < deadline, refusedAt == nil || !store.storageStatus.isFallback {
            let started = ContinuousClock.now
            let admitted = try await call(b, fails: true)
            slowest = max(slowest, ContinuousClock.now - started)
            if !admitted, refusedAt == nil { refusedAt = i }
            i += 1
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(store.storageStatus.isFallback, "\(store.storageStatus)")
        #expect(b.storageStatus.isFallback)
        #expect(refusedAt != nil, "opened locally from local evidence")
        #expect(b.state == .open)
        #expect(slowest < .milliseconds(100), "slowest decision during the stall: \(slowest)")
        // Meanwhile the shared row never heard of it.
        #expect(try await f.row("flaky").state == "CLOSED")
        #expect(peer.state == .closed)

        Self.end(outage, proxy)
        #expect(await eventually(.seconds(20)) { store.storageStatus == .database }, "\(store.storageStatus)")
        let row = try await f.row("flaky")
        #expect(row.state == "OPEN", "the local OPEN was published: \(row)")
        #expect(await eventually { peer.state == .open }, "and pushed to the other instance")
        let last = try await f.store.transitions(of: "flaky").first
        #expect(last?.who == "proxied" && last?.why.contains("outage") == true, "\(String(describing: last))")
        print("breaker fallback (\(outage.rawValue)): slowest decision during the outage \(slowest); refused locally after \(refusedAt ?? -1) calls")
        await store.shutdown()
        await f.finish()
    }

    /// When the shared state moved on during the outage (an administrator reset it), the newer shared state
    /// wins over the local OPEN.
    @Test func aNewerSharedStateWinsOverALocalOpen() async throws {
        let f = try await BreakerFixture.make()
        let proxy = try PGFaultProxy(targetPort: f.pg.port)
        defer { proxy.stop() }
        var configuration = PGBreakerStore.Configuration(schemaName: f.schema)
        configuration.statementTimeout = .milliseconds(300)
        configuration.refreshInterval = .milliseconds(500)
        let url = "postgres://\(TemporaryPostgres.Role.trust.name)@127.0.0.1:\(proxy.port)/\(TemporaryPostgres.databaseName)?sslmode=disable&connect_timeout=2"
        let store = try PGBreakerStore(.url(url), configuration: configuration)
        try await store.start()
        let b = try store.breaker("moved", policy: PGBreakerPolicy(cooldown: .seconds(120), failureLimit: PGBreakerFraction(2, 4)))
        try await call(b, fails: false)
        await store.flush()
        proxy.stall()
        #expect(await eventually(.seconds(10)) {
            _ = try? await call(b, fails: true)
            return b.state == .open && store.storageStatus.isFallback
        })
        try await f.store.disable("moved", why: "operator")
        proxy.pass()
        #expect(await eventually(.seconds(20)) { store.storageStatus == .database })
        #expect(await eventually { b.state == .disabled }, "\(b.state)")
        #expect(try await f.row("moved").state == "DISABLED")
        await store.shutdown()
        await f.finish()
    }
}
}
