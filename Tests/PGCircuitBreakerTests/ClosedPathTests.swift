import Foundation
import PGCircuitBreaker
import PGClient
import PGStoreSupport
import PGTestSupport
import Testing

extension CircuitBreakerSuites {
/// The closed path sends nothing to the database: 100,000 protected calls move no byte through a proxy in
/// front of it; the one flush afterwards is one statement.
@Suite struct ClosedPathTests {
    @Test func aHealthyCallCostsNoStatement() async throws {
        let f = try await BreakerFixture.make()
        let proxy = try PGFaultProxy(targetPort: f.pg.port)
        defer { proxy.stop() }
        var configuration = PGBreakerStore.Configuration(schemaName: f.schema)
        configuration.flushInterval = .seconds(3_600)     // no background flush during the measurement
        configuration.refreshInterval = .seconds(3_600)
        let url = "postgres://\(TemporaryPostgres.Role.trust.name)@127.0.0.1:\(proxy.port)/\(TemporaryPostgres.databaseName)?sslmode=disable"
        let store = try PGBreakerStore(.url(url), configuration: configuration)
        try await store.start()
        let b = try store.breaker("hot", policy: PGBreakerPolicy(cooldown: .seconds(60), failureLimit: PGBreakerFraction(5, 10)))
        try await Task.sleep(for: .milliseconds(200))
        let before = proxy.statistics
        let calls = 100_000
        let started = ContinuousClock.now
        var sum = 0
        for i in 0..<calls { sum &+= try await b.run { i } }
        let elapsed = ContinuousClock.now - started
        let after = proxy.statistics
        #expect(after.bytesToServer == before.bytesToServer, "the closed path sent \(after.bytesToServer - before.bytesToServer) bytes")
        #expect(sum > 0)
        await store.flush()
        #expect(proxy.statistics.bytesToServer > after.bytesToServer, "the flush is the first statement")
        #expect(try await f.row("hot").state == "CLOSED")
        let nanos = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        print("breaker closed path: \(calls) calls, 0 bytes to the server, \(String(format: "%.0f", nanos / Double(calls))) ns per protected call")
        await store.shutdown()
        await f.finish()
    }
}
}
