import Foundation
import PGClient
import PGStoreSupport
import PGTestSupport
import PGWorkQueue
import Synchronization
import Testing

/// Every suite of this target, one at a time: the multi-process test should not share two cores with the rest.
@Suite(.serialized) struct WorkQueueSuites {}

/// Queue stores (one per simulated process, each with its own pool, LISTEN and holder id) in a schema of
/// their own on the shared test server; the first creates the schema (`autoCreate`). The background sweep
/// is slowed to an hour so tests decide when a sweep runs.
struct QueueFixture {
    let pg: TemporaryPostgres
    let schema: String
    let stores: [PGWorkQueueStore]
    let admin: PGConnection

    var store: PGWorkQueueStore { stores[0] }

    static func make(instances: Int = 1, configure: (inout PGWorkQueueStore.Configuration) -> Void = { _ in }) async throws -> QueueFixture {
        let pg = try await TemporaryPostgres.shared()
        let schema = "q_\(UInt32.random(in: 0...UInt32.max))"
        var stores: [PGWorkQueueStore] = []
        for i in 0..<instances {
            var configuration = PGWorkQueueStore.Configuration(schemaName: schema)
            configuration.autoCreate = i == 0
            configuration.holder = "holder-\(i)"
            configuration.sweepInterval = .seconds(3600)
            configure(&configuration)
            let store = try PGWorkQueueStore(.url(pg.url()), configuration: configuration)
            try await store.start()
            stores.append(store)
        }
        let admin = try await PGConnection.connect(try PGConnectionConfiguration(url: pg.url()))
        return QueueFixture(pg: pg, schema: schema, stores: stores, admin: admin)
    }

    var clock: PGStoreClock { PGStoreClock(schema: try! PGStoreIdentifier(schema)) }

    func advance(_ d: Duration) async throws { try await clock.advance(by: d, on: admin) }

    func count(_ table: String, _ filter: String = "true") async throws -> Int64 {
        try await admin.queryOne(PGQuery(unsafeSQL: "SELECT count(*) FROM \"\(schema)\".\"\(table)\" WHERE \(filter)"), as: Int64.self)
    }

    func finish() async {
        for s in stores { await s.shutdown() }
        _ = try? await admin.simpleQuery("DROP SCHEMA \"\(schema)\" CASCADE")
        await admin.close()
    }
}

func items(_ n: Int, prefix: String = "item-") -> [PGQueueItem] {
    (0..<n).map { PGQueueItem(payload: Data("payload \($0)".utf8), sourceID: "\(prefix)\($0)") }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(_ timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}
