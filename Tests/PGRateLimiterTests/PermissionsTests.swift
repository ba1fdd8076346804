import Foundation
import PGClient
import PGRateLimiter
import PGStoreSupport
import PGTestSupport
import PGWire
import Testing

/// The seed's troubleshooting cases as typed errors, and a runtime role with only the generated grants.
@Suite struct PermissionsTests {
    @Test func aRuntimeRoleNeedsOnlyTheGeneratedGrants() async throws {
        let pg = try await TemporaryPostgres.shared()
        let schema = "rl_role_\(UInt32.random(in: 0...UInt32.max))"
        let role = "rt_\(UInt32.random(in: 0...UInt32.max))", password = "pw_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try await PGConnection.connect(try PGConnectionConfiguration(url: pg.url(user: "postgres") + "?sslmode=disable"))
        _ = try await admin.simpleQuery("CREATE ROLE \(PGIdentifier.quote(role)) LOGIN PASSWORD '\(password)' IN ROLE tusk_runtime")
        let runtimeURL = pg.url(user: role, password: password) + "?sslmode=disable"
        var configuration = PGRateLimiterStore.Configuration()
        configuration.schemaName = schema

        // Setup as the owner (what `tusk setup ratelimit` does).
        var owner = configuration
        owner.autoCreate = true
        let setup = try PGRateLimiterStore(.url(pg.url()), configuration: owner)
        try await setup.start()
        await setup.shutdown()

        // Before the grants: a typed permission error at start, saying what to run.
        let early = try PGRateLimiterStore(.url(runtimeURL), configuration: configuration)
        let denied = await #expect(throws: PGStoreError.self) { try await early.start() }
        #expect(denied?.code == .permissionDenied, "\(String(describing: denied))")
        #expect(denied?.message.contains("tusk grants") == true, "\(String(describing: denied))")
        await early.shutdown()

        // The generated grants, applied by the owner.
        let names = try PGRateLimiterSchema.definition.names(schema: try PGStoreIdentifier(schema))
        for statement in try PGStoreGrants.statements(for: PGRateLimiterSchema.definition, names: names, role: try PGStoreIdentifier(role)) {
            _ = try await admin.simpleQuery(statement)
        }
        let store = try PGRateLimiterStore(.url(runtimeURL), configuration: configuration)
        try await store.start()
        let limiter = try store.limiter("api", .perSecond(100, maxConcurrent: 2))
        let permit = try await limiter.acquire(key: "k")
        #expect(permit.slot != nil)
        try await permit.release()
        await store.shutdown()
        _ = try await admin.simpleQuery("DROP SCHEMA \(PGIdentifier.quote(schema)) CASCADE")
        _ = try await admin.simpleQuery("DROP OWNED BY \(PGIdentifier.quote(role)); DROP ROLE \(PGIdentifier.quote(role))")
        await admin.close()
    }

    /// A wrong password is a typed, immediate error at start, not a wait for the pool's acquire timeout.
    @Test func aWrongPasswordFailsStartAtOnce() async throws {
        let pg = try await TemporaryPostgres.shared()
        let url = pg.url(user: TemporaryPostgres.Role.scram.name, password: "not-the-password") + "?sslmode=disable"
        var configuration = PGRateLimiterStore.Configuration()
        configuration.schemaName = "rl_pw_\(UInt32.random(in: 0...UInt32.max))"
        let store = try PGRateLimiterStore(.url(url), configuration: configuration)
        let started = ContinuousClock.now
        let error = await #expect(throws: PGStoreError.self) { try await store.start() }
        #expect(error?.code == .authenticationFailed, "\(String(describing: error))")
        #expect(error?.description.contains("not-the-password") == false)
        // Not after the pool's acquire timeout (30 s), which is what a refused login used to cost.
        #expect(ContinuousClock.now - started < .seconds(25))
        await store.shutdown()
    }
}
