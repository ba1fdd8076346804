import Foundation
import PGCircuitBreaker
import PGClient
import PGStoreSupport
import PGTestSupport
import Synchronization
import Testing

/// Every suite of this target, one at a time: the multi-process latency figures are not taken while the
/// 32-caller probe test and the fault tests load the same two cores. Tests inside a suite still run in parallel.
@Suite(.serialized) struct CircuitBreakerSuites {}

/// Breaker stores (one per simulated instance, each with its own pool and LISTEN) in a schema of their own on
/// the shared test server; the first creates the schema (`autoCreate`).
struct BreakerFixture {
    let pg: TemporaryPostgres
    let schema: String
    let stores: [PGBreakerStore]
    let admin: PGConnection

    var store: PGBreakerStore { stores[0] }

    static func make(instances: Int = 1, configure: (inout PGBreakerStore.Configuration) -> Void = { _ in }) async throws -> BreakerFixture {
        let pg = try await TemporaryPostgres.shared()
        let schema = "cb_\(UInt32.random(in: 0...UInt32.max))"
        var stores: [PGBreakerStore] = []
        for i in 0..<instances {
            var configuration = PGBreakerStore.Configuration(schemaName: schema)
            configuration.autoCreate = i == 0
            configuration.instanceName = "instance-\(i)"
            configure(&configuration)
            let store = try PGBreakerStore(.url(pg.url()), configuration: configuration)
            try await store.start()
            stores.append(store)
        }
        let admin = try await PGConnection.connect(try PGConnectionConfiguration(url: pg.url()))
        return BreakerFixture(pg: pg, schema: schema, stores: stores, admin: admin)
    }

    var clock: PGStoreClock { PGStoreClock(schema: try! PGStoreIdentifier(schema)) }

    func advance(_ d: Duration) async throws { try await clock.advance(by: d, on: admin) }

    func row(_ key: String) async throws -> (state: String, generation: Int64, failures: Int32) {
        try await admin.queryOne(
            "SELECT state::text, generation, failure_count FROM \(identifier: schema).rc_circuit_breakers WHERE resource_key = \(key)",
            as: (String, Int64, Int32).self)
    }

    func finish() async {
        for s in stores { await s.shutdown() }
        _ = try? await admin.simpleQuery("DROP SCHEMA \"\(schema)\" CASCADE")
        await admin.close()
    }
}

struct Downstream: Error {}

/// Runs one call with the given outcome; returns false when the breaker refused it.
@discardableResult
func call(_ b: PGBreaker, fails: Bool) async throws -> Bool {
    do {
        try await b.run { if fails { throw Downstream() } }
        return true
    } catch is PGBreakerOpenError {
        return false
    } catch is Downstream {
        return true
    }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(_ timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return try await condition()
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((p * Double(sorted.count - 1)).rounded(.up)))]
}

/// Runs a statement and reads its rows to the end.
func drain(_ c: PGConnection, _ q: PGQuery) async throws {
    for try await _ in try await c.query(q, timeout: nil) {}
}

/// A value shared between tasks.
final class Shared<T: Sendable>: Sendable {
    private let m: Mutex<T>
    init(_ value: T) { m = Mutex(value) }
    var value: T { m.withLock { $0 } }
    func update(_ f: (inout T) -> Void) { m.withLock { f(&$0) } }
}
