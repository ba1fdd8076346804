import Foundation
import PGCircuitBreaker
import PGClient
import PGStoreSupport
import PGTestSupport
import Testing

extension CircuitBreakerSuites {
/// A runtime role with exactly what `tusk grants breaker` prints (no DDL, no ownership) runs every path:
/// start check, flush and trip, list, transition log, admin states, half-open permits and probe results.
@Suite struct GrantsTests {
    @Test func theRuntimeRoleNeedsOnlyTheGrantedPrivileges() async throws {
        let f = try await BreakerFixture.make()
        let su = try await PGConnection.connect(try PGConnectionConfiguration(url: f.pg.url(user: "postgres")))
        let role = "cb_app_\(UInt32.random(in: 0...UInt32.max))"
        _ = try await su.simpleQuery("CREATE ROLE \(role) NOLOGIN")
        let names = try PGBreakerSchema.definition.names(schema: f.schema)
        for statement in try PGStoreGrants.statements(for: PGBreakerSchema.definition, names: names,
                                                      role: try PGStoreIdentifier(role, what: "role name")) {
            _ = try await su.simpleQuery(statement)
        }
        var configuration = try PGConnectionConfiguration(url: f.pg.url(user: "postgres"))
        configuration.options = "-c role=\(role)"
        let check = try await PGConnection.connect(configuration)
        #expect(try await check.queryOne("SELECT current_user::text", as: String.self) == role)
        await check.close()

        let store = try PGBreakerStore(.configuration(configuration), configuration: .init(schemaName: f.schema, instanceName: "app"))
        try await store.start()
        let b = try store.breaker("least_privilege", policy: PGBreakerPolicy(cooldown: .zero, failureLimit: PGBreakerFraction(2, 4)))
        for _ in 0..<2 { try await call(b, fails: true) }
        await store.flush()
        #expect(store.storageStatus == .database, "\(store.storageStatus)")
        #expect(b.state == .open)
        // Cooldown 0: the next call asks for a permit, probes, and closes it.
        #expect(try await call(b, fails: false))
        #expect(b.state == .closed)
        try await store.forceOpen("least_privilege")
        try await store.reset("least_privilege")
        await store.refreshNow()
        #expect(try await store.list().map(\.resourceKey) == ["least_privilege"])
        let log = try await store.transitions(of: "least_privilege")
        #expect(log.map(\.to).reversed() == [.open, .halfOpen, .closed, .forcedOpen, .closed])
        #expect(store.storageStatus == .database, "\(store.storageStatus)")
        await store.shutdown()
        await f.finish()
        _ = try? await su.simpleQuery("DROP OWNED BY \(role)")
        _ = try? await su.simpleQuery("DROP ROLE \(role)")
        await su.close()
    }
}
}
