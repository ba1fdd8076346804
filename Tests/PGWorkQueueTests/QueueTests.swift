import Foundation
import PGClient
import PGStoreSupport
import PGTestSupport
import PGWorkQueue
import Synchronization
import Testing

extension WorkQueueSuites {
@Suite struct QueueTests {
    @Test func produceLeaseCompleteInOrderWithDedup() async throws {
        let f = try await QueueFixture.make()
        let q = try await f.store.createQueue(PGQueueSettings(name: "orders"))
        let ids = try await q.produce(items(5))
        #expect(ids.allSatisfy { $0 != nil })
        // The same source ids again, plus one new: only the new one is queued.
        let again = try await q.produce(items(6))
        #expect(again.prefix(5).allSatisfy { $0 == nil } && again[5] != nil)
        let leased = try await q.lease(max: 4)
        #expect(leased.map(\.sourceID) == ["item-0", "item-1", "item-2", "item-3"])
        #expect(leased[0].payload == Data("payload 0".utf8) && leased[0].attempts == 1)
        #expect(Set(leased.map(\.token)).count == 4)
        #expect(try await q.complete(leased) == [.done, .done, .done, .done])
        #expect(try await q.complete(leased) == [.fenced, .fenced, .fenced, .fenced])
        let rest = try await q.lease(max: 10)
        #expect(rest.map(\.sourceID) == ["item-4", "item-5"])
        #expect(try await q.lease(max: 10).isEmpty)
        let stats = try await q.stats()
        #expect(stats.inFlight == 2 && stats.ready == 0 && stats.deadTuples >= 0 && stats.oldestTransactionAge >= .zero)
        #expect(try await q.complete(rest) == [.done, .done])
        #expect(try await f.count(q.tableNames[0]) == 0)
        await f.finish()
    }

    @Test func tablesAreNamedAsTheSeedDocuments() async throws {
        let f = try await QueueFixture.make()
        let q = try await f.store.createQueue(PGQueueSettings(name: "my-queue", partitions: 2))
        // `<hash>`: the first 12 hex digits of the MD5 of the name (the seed's rule; its example hashes are illustrative).
        let hash = try await f.admin.queryOne("SELECT left(md5('my-queue'), 12)", as: String.self)
        #expect(hash == "255436d8bdc5")
        #expect(q.tableNames == ["items_\(hash)_000000", "items_\(hash)_000001"])
        // The seed's monitoring queries see them and their indexes.
        let tables = try await f.admin.queryOne(PGQuery(unsafeSQL:
            "SELECT count(*) FROM pg_tables WHERE schemaname = '\(f.schema)' AND tablename LIKE 'items_%'"), as: Int64.self)
        #expect(tables == 2)
        let indexes = try await f.admin.queryOne(PGQuery(unsafeSQL:
            "SELECT count(*) FROM pg_stat_user_indexes WHERE schemaname = '\(f.schema)' AND relname LIKE 'items_%' AND indexrelname LIKE 'idx_\(hash)_00000%'"),
            as: Int64.self)
        #expect(indexes == 12)
        let listed = try await f.store.listQueues()
        #expect(listed.map(\.name) == ["my-queue"] && listed[0].partitions == 2)
        // Items spread over both partitions and all come back.
        _ = try await q.produce(items(40))
        let (p0, p1) = (try await f.count(q.tableNames[0]), try await f.count(q.tableNames[1]))
        #expect(p0 > 0 && p1 > 0 && p0 + p1 == 40)
        var got = 0
        while true {
            let b = try await q.lease(max: 7)
            if b.isEmpty { break }
            got += b.count
            #expect(try await q.complete(b).allSatisfy { $0 == .done })
        }
        #expect(got == 40)
        try await f.store.deleteQueue("my-queue")
        #expect(try await f.store.listQueues().isEmpty)
        await f.finish()
    }

    @Test func anExpiredHolderIsFencedAfterReLease() async throws {
        let f = try await QueueFixture.make(instances: 2)
        let a = try await f.stores[0].createQueue(PGQueueSettings(name: "jobs", leaseTimeout: .seconds(30)))
        let b = try await f.stores[1].queue("jobs")
        _ = try await a.produce(items(1))
        let mine = try await a.lease(max: 1)
        #expect(mine.count == 1)
        #expect(try await b.lease(max: 1).isEmpty)           // held
        try await f.advance(.seconds(31))
        #expect(try await b.sweep().returned == 1)           // the lease ran out on the database clock
        let theirs = try await b.lease(max: 1)
        #expect(theirs.count == 1 && theirs[0].token > mine[0].token && theirs[0].attempts == 2)
        // The stalled holder wakes up: complete, retry and extend are all refused and change nothing.
        #expect(try await a.complete(mine) == [.fenced])
        #expect(try await a.retry(mine) == [.fenced])
        #expect(try await a.extend(mine) == [.fenced])
        let (holder, token) = try await f.admin.queryOne(PGQuery(unsafeSQL:
            "SELECT lease_holder, lease_token FROM \"\(f.schema)\".\"\(a.tableNames[0])\""), as: (String, Int64).self)
        #expect(holder == "holder-1" && token == theirs[0].token.rawValue)
        #expect(try await b.extend(theirs) == [.done])
        #expect(try await b.complete(theirs) == [.done])
        await f.finish()
    }

    @Test func retryThenDeadLetterAfterMaxAttempts() async throws {
        let f = try await QueueFixture.make()
        _ = try await f.store.createQueue(PGQueueSettings(name: "jobs-dead"))
        let q = try await f.store.createQueue(PGQueueSettings(name: "jobs", maxAttempts: 2, deadQueue: "jobs-dead"))
        let dead = try await f.store.queue("jobs-dead")
        _ = try await q.produce(items(2))
        let first = try await q.lease(max: 2)
        #expect(try await q.retry(first) == [.done, .done])
        // Retry later: not leasable before its time.
        let second = try await q.lease(max: 2)
        #expect(second.map(\.attempts) == [2, 2])
        #expect(try await q.retry([second[0]], after: .seconds(10)) == [.deadLettered])   // out of attempts
        // The other one's lease runs out with no attempts left: the sweep dead-letters it.
        try await f.advance(.seconds(61))
        #expect(try await q.sweep().dead == 1)
        #expect(try await q.lease(max: 5).isEmpty)
        let buried = try await dead.lease(max: 5)
        #expect(Set(buried.compactMap(\.sourceID)) == ["item-0", "item-1"])
        #expect(buried.allSatisfy { $0.payload.starts(with: Data("payload".utf8)) })
        await f.finish()
    }

    @Test func scheduledItemsWaitForTheirTime() async throws {
        let f = try await QueueFixture.make()
        let q = try await f.store.createQueue(PGQueueSettings(name: "later"))
        _ = try await q.produce([PGQueueItem(payload: Data("x".utf8), delay: .seconds(30))])
        _ = try await q.sweep()
        #expect(try await q.lease(max: 1).isEmpty)
        #expect(try await q.stats().scheduled == 1)
        try await f.advance(.seconds(29))
        #expect(try await q.sweep().ready == 0)
        #expect(try await q.lease(max: 1).isEmpty)
        try await f.advance(.seconds(2))
        #expect(try await q.sweep().ready == 1)
        #expect(try await q.lease(max: 1).count == 1)
        // A retry with a delay is a scheduled delivery too.
        _ = try await q.produce([PGQueueItem(payload: Data("y".utf8))])
        let y = try await q.lease(max: 1)
        #expect(try await q.retry(y, after: .seconds(5)) == [.done])
        #expect(try await q.lease(max: 1).isEmpty)
        try await f.advance(.seconds(6))
        _ = try await q.sweep()
        #expect(try await q.lease(max: 1).map(\.attempts) == [2])
        await f.finish()
    }

    @Test func expiredItemsAreNotLeased() async throws {
        let f = try await QueueFixture.make()
        let q = try await f.store.createQueue(PGQueueSettings(name: "short", expireTimeout: .seconds(10)))
        _ = try await q.produce(items(3))
        try await f.advance(.seconds(11))
        #expect(try await q.lease(max: 3).isEmpty)
        #expect(try await q.sweep().dead == 3)     // no dead-letter queue: dropped
        #expect(try await f.count(q.tableNames[0]) == 0)
        await f.finish()
    }

    @Test func aProducedItemWakesASleepingConsumer() async throws {
        let f = try await QueueFixture.make(instances: 2)
        let producer = try await f.stores[0].createQueue(PGQueueSettings(name: "wake"))
        let consumer = try await f.stores[1].queue("wake")
        let started = ContinuousClock.now
        async let woke: Void = consumer.waitForWork(timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(100))
        _ = try await producer.produce(items(1))
        await woke
        let waited = ContinuousClock.now - started
        #expect(waited < .seconds(2), "woken after \(waited), not by NOTIFY")
        #expect(try await consumer.lease(max: 1).count == 1)
        await f.finish()
    }

    @Test func aStalledDatabaseAnswersWithinTheDeadline() async throws {
        let f = try await QueueFixture.make()
        _ = try await f.store.createQueue(PGQueueSettings(name: "stall"))
        let proxy = try PGFaultProxy(targetPort: f.pg.port)
        defer { proxy.stop() }
        var configuration = PGWorkQueueStore.Configuration(schemaName: f.schema)
        configuration.statementTimeout = .milliseconds(300)
        let url = "postgres://\(TemporaryPostgres.Role.trust.name)@127.0.0.1:\(proxy.port)/\(TemporaryPostgres.databaseName)?sslmode=disable&connect_timeout=2"
        let store = try PGWorkQueueStore(.url(url), configuration: configuration)
        try await store.start()
        let q = try await store.queue("stall")
        _ = try await q.produce(items(2))
        let held = try await q.lease(max: 1)
        proxy.stall()
        for op in ["produce", "lease", "complete"] {
            let started = ContinuousClock.now
            do {
                switch op {
                case "produce": _ = try await q.produce(items(1, prefix: "more-"))
                case "lease": _ = try await q.lease(max: 1)
                default: _ = try await q.complete(held)
                }
                Issue.record("\(op) succeeded through a stalled proxy")
            } catch {
                #expect(error.code == .timeout, "\(op): \(error)")
            }
            let took = ContinuousClock.now - started
            #expect(took < .seconds(1), "\(op) took \(took)")
            print("queue \(op) against a stalled database answered in \(took)")
        }
        proxy.pass()
        await store.shutdown()
        await f.finish()
    }
}
}

extension WorkQueueSuites {
@Suite struct ConsumerTests {
    @Test func runCompletesRetriesHeartbeatsAndLeavesNothingLeasedOnCancel() async throws {
        let f = try await QueueFixture.make()
        let q = try await f.store.createQueue(PGQueueSettings(name: "consume", leaseTimeout: .milliseconds(600)))
        _ = try await q.produce(items(20))
        let seen = Counter()
        let consumer = Task {
            try await q.run(concurrency: 4, pollInterval: .milliseconds(100), retryBackoff: .milliseconds(1)) { item in
                let n = seen.increment(item.sourceID ?? "")
                if item.sourceID == "item-3", n == 1 { throw CancellationError() }   // fails once, then succeeds
                if item.sourceID == "item-7" { try await Task.sleep(for: .milliseconds(1500)) }   // outlives its lease
            }
        }
        // While item-7's handler runs past the lease timeout, heartbeats keep its lease: sweeps return nothing.
        try await Task.sleep(for: .milliseconds(900))
        #expect(try await q.sweep().returned == 0)
        let drained = try await eventually(.seconds(10)) { try await f.count(q.tableNames[0]) == 0 }
        #expect(drained)
        #expect(seen.count("item-3") == 2 && seen.count("item-7") == 1 && seen.count("item-0") == 1)
        consumer.cancel()
        _ = try? await consumer.value
        // Cancelled mid-handler: the item goes straight back, unleased.
        _ = try await q.produce([PGQueueItem(payload: Data(), sourceID: "slow")])
        let slow = Task {
            try await q.run(concurrency: 1, pollInterval: .milliseconds(100)) { _ in try await Task.sleep(for: .seconds(60)) }
        }
        #expect(try await eventually { try await f.count(q.tableNames[0], "is_leased") == 1 })
        slow.cancel()
        _ = try? await slow.value
        #expect(try await f.count(q.tableNames[0], "is_leased") == 0)
        #expect(try await f.count(q.tableNames[0], "enqueue_at IS NULL AND attempts = 1") == 1)
        await f.finish()
    }
}
}

final class Counter: Sendable {
    private let m = Mutex<[String: Int]>([:])
    func increment(_ key: String) -> Int { m.withLock { $0[key, default: 0] += 1; return $0[key]! } }
    func count(_ key: String) -> Int { m.withLock { $0[key] ?? 0 } }
}
