import Foundation
import PGClient
import PGStoreSupport
import PGTestSupport
import PGWorkQueue
import Testing

extension WorkQueueSuites {
@Suite struct ThroughputTests {
    /// Two stores (two pools, as two processes would have) produce the same source ids at once: each is queued once.
    @Test func dedupHoldsAcrossConcurrentProducers() async throws {
        let f = try await QueueFixture.make(instances: 2)
        let a = try await f.stores[0].createQueue(PGQueueSettings(name: "dedup", partitions: 3))
        let b = try await f.stores[1].queue("dedup")
        async let x = a.produce(items(1_000))
        async let y = b.produce(items(1_000).reversed())
        let (ra, rb) = try await (x, y)
        let queued = ra.compactMap { $0 }.count + rb.compactMap { $0 }.count
        var rows: Int64 = 0
        for t in a.tableNames { rows += try await f.count(t) }
        #expect(queued == 1_000 && rows == 1_000)
        await f.finish()
    }

    /// Figures only (one process, one connection at a time): produce in batches of 100 and one by one,
    /// and lease+complete in batches of 100.
    @Test func figures() async throws {
        let f = try await QueueFixture.make()
        let q = try await f.store.createQueue(PGQueueSettings(name: "speed"))
        let n = 20_000
        var t0 = ContinuousClock.now
        for chunk in stride(from: 0, to: n, by: 100) {
            _ = try await q.produce((chunk..<chunk + 100).map { PGQueueItem(payload: Data(count: 64), sourceID: "s\($0)") })
        }
        let produceBatch = Double(n) / (ContinuousClock.now - t0).seconds
        t0 = ContinuousClock.now
        for i in 0..<500 { _ = try await q.produce([PGQueueItem(payload: Data(count: 64), sourceID: "single\(i)")]) }
        let produceSingle = 500 / (ContinuousClock.now - t0).seconds
        t0 = ContinuousClock.now
        var done = 0
        while true {
            let b = try await q.lease(max: 100)
            if b.isEmpty { break }
            done += try await q.complete(b).filter { $0 == .done }.count
        }
        let drain = Double(done) / (ContinuousClock.now - t0).seconds
        print(String(format: "queue figures (1 connection, durable): produce %.0f items/s in batches of 100, %.0f items/s one by one; "
                     + "lease+complete %.0f items/s in batches of 100 (2 statements per 100 items)", produceBatch, produceSingle, drain))
        #expect(done == n + 500)
        await f.finish()
    }
}
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
