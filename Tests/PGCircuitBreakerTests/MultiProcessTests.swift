import Foundation
import PGCircuitBreaker
import PGClient
import PGStoreSupport
import PGTestSupport
import Testing

extension CircuitBreakerSuites {
/// Four worker processes share one breaker: one calls a failing downstream until the database opens the
/// breaker; the other three must refuse right after the database's decision (NOTIFY, no polling).
@Suite struct MultiProcessTests {
    @Test func oneProcessTripsAndTheOthersRefuseRightAfterTheDecision() async throws {
        let f = try await BreakerFixture.make()
        let cycles = 50
        let roles = ["fail", "observe", "observe", "observe"]
        let workers = try PGWorkerProcess.start(count: 4, "breaker") { i in
            ["--url", f.pg.url(), "--schema", f.schema, "--key", "shared_external_api", "--role", roles[i],
             "--seconds", "120"]
        }
        defer { Task { _ = await PGWorkerProcess.killAll(workers) } }
        for w in workers { _ = try await w.waitForEvent(named: "ready", timeout: .seconds(60)) }
        var delays: [Double] = []
        var pushes: [Double] = []
        var own: [Double] = []
        var decisions: [(Int64, Int64)] = []
        for cycle in 0..<cycles {
            // Let the failing worker trip it (its first flush after the reset holds ≥ 5 failures of 10).
            let opened = await eventually(.seconds(10)) {
                (try? await f.row("shared_external_api").state) == "OPEN"
            }
            #expect(opened, "cycle \(cycle): never opened")
            let (generation, at) = try await f.admin.queryOne("""
                SELECT generation, (extract(epoch FROM at) * 1000000)::int8 FROM \(identifier: f.schema).rc_circuit_breaker_transitions
                 WHERE resource_key = 'shared_external_api' AND to_state = 'OPEN' ORDER BY id DESC LIMIT 1
                """, as: (Int64, Int64).self)
            decisions.append((generation, at))
            let observers = workers.dropFirst()
            let seen = await eventually(.seconds(10)) {
                observers.allSatisfy { w in w.events.contains { $0.name == "refused" && $0["gen"] == String(generation) } }
            }
            #expect(seen, "cycle \(cycle): not every observer refused at generation \(generation)")
            if let e = workers[0].events.first(where: { $0.name == "learned" && $0["gen"] == String(generation) }), let t = e["at"].flatMap(Int64.init) {
                own.append(Double(t - at) / 1_000)
            }
            for w in observers {
                if let e = w.events.first(where: { $0.name == "refused" && $0["gen"] == String(generation) }), let t = e["at"].flatMap(Int64.init) {
                    delays.append(Double(t - at) / 1_000)
                }
                if let e = w.events.first(where: { $0.name == "learned" && $0["gen"] == String(generation) }), let t = e["at"].flatMap(Int64.init) {
                    pushes.append(Double(t - at) / 1_000)
                }
            }
            // Observers keep being refused with no database round trip: the trip is not re-decided.
            try await f.store.reset("shared_external_api", why: "next cycle")
            try await Task.sleep(for: .milliseconds(50))
        }
        let p50 = percentile(delays, 0.5), p99 = percentile(delays, 0.99), worst = delays.max() ?? .nan
        print("breaker trip push (decision -> the observer process's state is OPEN) over \(pushes.count): "
              + String(format: "p50 %.2f ms, p99 %.2f ms, max %.2f ms", percentile(pushes, 0.5), percentile(pushes, 0.99), pushes.max() ?? .nan))
        print("breaker trip decided -> the deciding process knows over \(own.count): "
              + String(format: "p50 %.2f ms, p99 %.2f ms, max %.2f ms", percentile(own, 0.5), percentile(own, 0.99), own.max() ?? .nan))
        print("breaker trip propagation over \(delays.count) refusals (\(cycles) trips × 3 observer processes): "
              + String(format: "p50 %.2f ms, p99 %.2f ms, max %.2f ms", p50, p99, worst))
        #expect(delays.count == cycles * 3)
        // Figures are printed; the bounds only catch a broken push (a missed NOTIFY would wait for a flush or refresh).
        #expect(p50 < 20, "p50 \(p50) ms from the database's decision to a refusal in another process")
        #expect(p99 < 500, "p99 \(p99) ms from the database's decision to a refusal in another process")
        _ = await PGWorkerProcess.killAll(workers)
        await f.finish()
    }
}
}
