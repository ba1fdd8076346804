import Foundation
import PGCircuitBreaker
import PGClient
import PGStoreSupport
import PGTestSupport
import Testing

extension CircuitBreakerSuites {
/// The seed's "Monitoring" section, run verbatim on our table.
@Suite struct MonitoringTests {
    @Test func theSeedsMonitoringQueriesReturnWhatTheyPromise() async throws {
        let f = try await BreakerFixture.make()
        let policy = PGBreakerPolicy(cooldown: .seconds(60), failureLimit: PGBreakerFraction(5, 10))
        let expired = try f.store.breaker("expired_api", policy: policy)
        for _ in 0..<5 { try await call(expired, fails: true) }
        await f.store.flush()
        #expect(expired.state == .open)
        // Its cooldown ends; a minute later the open one below opens.
        try await f.advance(.seconds(61))
        let open = try f.store.breaker("stripe_payment_api", policy: policy)
        for _ in 0..<5 { try await call(open, fails: true) }
        let shaky = try f.store.breaker("user_service_grpc", policy: policy)
        for _ in 0..<3 { try await call(shaky, fails: true) }
        let healthy = try f.store.breaker("search_api", policy: policy)
        try await call(healthy, fails: true)
        for _ in 0..<4 { try await call(healthy, fails: false) }
        await f.store.flush()
        await f.store.refreshNow()   // any running store's refresh ends expired cooldowns
        let old = try f.store.breaker("retired_api", policy: policy)
        try await call(old, fails: false)
        await f.store.flush()
        _ = try await f.admin.simpleQuery("SET search_path TO \"\(f.schema)\"")
        // retired_api was last used 40 days ago (the trigger stamps updated_at with the store clock).
        try await f.advance(.seconds(-40 * 86_400))
        _ = try await f.admin.simpleQuery("UPDATE rc_circuit_breakers SET failure_count = failure_count WHERE resource_key = 'retired_api'")
        try await f.advance(.seconds(40 * 86_400))

        // -- View all circuit breakers and their status
        let all = try await f.admin.query("""
            SELECT resource_key, state, failure_count, open_until, updated_at
            FROM rc_circuit_breakers
            ORDER BY updated_at DESC;
            """).decode((String, String, Int32, Date?, Date?).self).collect()
        #expect(Set(all.map(\.0)) == ["expired_api", "stripe_payment_api", "user_service_grpc", "search_api", "retired_api"])
        #expect(all.last?.0 == "retired_api")
        #expect(zip(all, all.dropFirst()).allSatisfy { ($0.4 ?? .distantPast) >= ($1.4 ?? .distantPast) })

        // -- Find all open circuit breakers: not the one whose cooldown ended
        let openRows = try await f.admin.query("""
            SELECT resource_key, open_until, updated_at
            FROM rc_circuit_breakers
            WHERE state = 'OPEN';
            """).decode((String, Date?, Date?).self).collect()
        #expect(openRows.map(\.0) == ["stripe_payment_api"])
        #expect(openRows.first?.1 != nil)

        // -- Check failure counts
        let counts = try await f.admin.query("""
            SELECT resource_key, failure_count, state
            FROM rc_circuit_breakers
            WHERE state = 'CLOSED'
            ORDER BY failure_count DESC;
            """).decode((String, Int32, String).self).collect()
        #expect(counts.map(\.0) == ["user_service_grpc", "search_api", "retired_api"])
        #expect(counts.map(\.1) == [3, 1, 0])

        // -- Monitor circuit breaker transitions
        let recent = try await f.admin.query("""
            SELECT resource_key, state, updated_at
            FROM rc_circuit_breakers
            WHERE updated_at > NOW() - INTERVAL '1 hour'
            ORDER BY updated_at DESC;
            """).decode((String, String, Date?).self).collect()
        #expect(Set(recent.map(\.0)) == ["expired_api", "stripe_payment_api", "user_service_grpc", "search_api"])
        let expiredNow = recent.first { $0.0 == "expired_api" }?.1
        #expect(expiredNow == "HALF_OPEN")

        // Cleanup of unused entries
        let deleted = try await f.admin.execute("""
            DELETE FROM rc_circuit_breakers
            WHERE updated_at < NOW() - INTERVAL '30 days';
            """)
        #expect(deleted == 1)

        // The seed's indexes exist by name.
        var indexes: [String] = []
        for try await row in try await f.admin.query("SELECT indexname::text FROM pg_indexes WHERE schemaname = \(f.schema) AND tablename = 'rc_circuit_breakers'") {
            indexes.append(try row.decode(String.self, column: 0))
        }
        #expect(Set(indexes).isSuperset(of: ["rc_circuit_breakers_pkey", "idx_rc_circuit_breakers_state", "idx_rc_circuit_breakers_open_until",
                                            "idx_rc_circuit_breakers_key_state", "idx_rc_circuit_breakers_state_updated"]))
        // The transition log is SQL too.
        let log = try await f.admin.queryOne("SELECT count(*)::int8 FROM rc_circuit_breaker_transitions WHERE to_state = 'OPEN'", as: Int64.self)
        #expect(log == 2)
        await f.finish()
    }
}
}
