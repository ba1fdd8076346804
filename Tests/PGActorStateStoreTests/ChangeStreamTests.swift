import Foundation
import PGActorStateStore
import PGClient
import PGStoreSupport
import PGTestSupport
import Synchronization
import Testing

extension ActorStateSuites {
@Suite struct ChangeStreamTests {
    /// Checks that `changes` holds sequences 1…n of `actor`, in order, none twice.
    static func checkComplete(_ changes: [PGActorStateChange], actor: String, n: Int) {
        let seqs = changes.filter { $0.actorID == actor }.map(\.sequenceNumber)
        #expect(seqs.count == n, "\(seqs.count) of \(n) changes delivered")
        #expect(seqs == (1...Int64(n)).map { $0 }, "out of order or duplicated (first bad index \(String(describing: Array(zip(seqs, 1...Int64(n))).firstIndex { $0 != $1 })))")
        let positions = changes.map(\.position)
        #expect(positions == positions.sorted(), "positions not increasing")
    }

    @Test func everyChangeIsDeliveredInOrderExactlyOnce() async throws {
        let f = try await ActorFixture.make()
        let other = try await f.another()
        let collector = Collector(try await other.changes())
        let n = 1_000
        for i in 1...n { try await f.store.save(Counter(value: i), for: "w") }
        #expect(await eventually(.seconds(20)) { collector.changes.count >= n })
        try await Task.sleep(for: .milliseconds(200))
        Self.checkComplete(collector.changes, actor: "w", n: n)
        collector.stop()
        await other.shutdown()
        await f.finish()
    }

    /// Concurrent writers on many actors: each actor's changes arrive in its sequence order, all of them.
    @Test func concurrentWritersEveryChangeOnce() async throws {
        let f = try await ActorFixture.make()
        let collector = Collector(try await f.store.changes())
        let (actors, each) = (8, 100)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for a in 0..<actors {
                group.addTask { for i in 1...each { try await f.store.save(Counter(value: i), for: "a\(a)") } }
            }
            try await group.waitForAll()
        }
        #expect(await eventually(.seconds(20)) { collector.changes.count >= actors * each })
        try await Task.sleep(for: .milliseconds(200))
        for a in 0..<actors { Self.checkComplete(collector.changes, actor: "a\(a)", n: each) }
        collector.stop()
        await f.finish()
    }

    /// Many writers on one actor: the row lock orders them, and the log delivers that order (a later writer
    /// may hold an older transaction id; the log key carries the previous change's forward).
    @Test func concurrentWritersOfOneActorArriveInSequenceOrder() async throws {
        let f = try await ActorFixture.make()
        let collector = Collector(try await f.store.changes())
        let (tasks, each) = (8, 150)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<tasks {
                group.addTask { for i in 1...each { try await f.store.save(Counter(value: t * 1_000 + i), for: "one") } }
            }
            try await group.waitForAll()
        }
        #expect(await eventually(.seconds(20)) { collector.changes.count >= tasks * each })
        try await Task.sleep(for: .milliseconds(200))
        Self.checkComplete(collector.changes, actor: "one", n: tasks * each)
        collector.stop()
        await f.finish()
    }

    /// The subscriber's connections (the shared LISTEN and the pool) are reset mid-stream through a fault proxy:
    /// it reconnects and catches up from the log, so every change arrives once, in order.
    @Test func aResetListenerConnectionIsFollowedByCatchUp() async throws {
        let f = try await ActorFixture.make()
        let proxy = try PGFaultProxy(targetPort: f.pg.port)
        defer { proxy.stop() }
        let url = "postgres://\(TemporaryPostgres.Role.trust.name)@127.0.0.1:\(proxy.port)/\(TemporaryPostgres.databaseName)?sslmode=disable&connect_timeout=2"
        let subscriber = try await f.another(url: url)
        let collector = Collector(try await subscriber.changes())
        let n = 3_000
        let writer = Task {
            for i in 1...n { try await f.store.save(Counter(value: i), for: "w") }
        }
        #expect(await eventually(.seconds(20)) { collector.changes.count >= n / 3 })
        let reset = proxy.resetConnections()
        #expect(reset >= 1)
        try await writer.value
        #expect(await eventually(.seconds(30)) { collector.changes.count >= n })
        try await Task.sleep(for: .milliseconds(200))
        Self.checkComplete(collector.changes, actor: "w", n: n)
        let interrupted = collector.events.withLock { $0.filter { if case .interrupted = $0 { true } else { false } }.count }
        print("actors: change stream over a reset proxy: \(collector.changes.count) of \(n) changes delivered, "
              + "\(reset) connections reset, \(interrupted) interruption event(s)")
        collector.stop()
        await subscriber.shutdown()
        await f.finish()
    }

    /// The listener's backend is terminated (`pg_terminate_backend`): the stream catches up.
    @Test func aTerminatedListenerBackendIsFollowedByCatchUp() async throws {
        let f = try await ActorFixture.make()
        let collector = Collector(try await f.store.changes())
        let n = 2_000
        let writer = Task {
            for i in 1...n { try await f.store.save(Counter(value: i), for: "w") }
        }
        #expect(await eventually(.seconds(20)) { collector.changes.count >= n / 3 })
        let killed = try await f.admin.queryOne("""
            SELECT count(pg_terminate_backend(pid))::int8 FROM pg_stat_activity
             WHERE pid <> pg_backend_pid() AND query ILIKE '%LISTEN%actor_state_changes%'
            """, as: Int64.self)
        try await writer.value
        #expect(await eventually(.seconds(30)) { collector.changes.count >= n })
        try await Task.sleep(for: .milliseconds(200))
        Self.checkComplete(collector.changes, actor: "w", n: n)
        print("actors: change stream after pg_terminate_backend of \(killed) listener(s): \(collector.changes.count) of \(n)")
        collector.stop()
        await f.finish()
    }

    /// A stream behind the log's retention is told to reload everything, then continues.
    @Test func aStreamBehindRetentionGetsReloadAll() async throws {
        let f = try await ActorFixture.make()
        for i in 1...10 { try await f.store.save(Counter(value: i), for: "p") }
        try await f.advance(.seconds(3_600))
        #expect(try await f.store.pruneChanges(olderThan: .seconds(60)) == 10)
        let collector = Collector(try await f.store.changes(after: .beginning))
        try await f.store.save(Counter(value: 11), for: "p")
        #expect(await eventually { collector.changes.contains { $0.sequenceNumber == 11 } })
        let events = collector.events.withLock { $0 }
        #expect(events.first == .reloadAll, "\(events.prefix(3))")
        #expect(collector.changes.map(\.sequenceNumber) == [11])
        collector.stop()
        await f.finish()
    }

    @Test func perActorStatesFollowTheActor() async throws {
        let f = try await ActorFixture.make()
        let states = try await f.store.states(of: "room", as: Counter.self)
        let seen = Task { () -> [Int] in
            var out: [Int] = []
            for await s in states {
                out.append(s.state?.value ?? -1)
                if s.state?.value == 3 { break }
            }
            return out
        }
        for i in 1...3 { try await f.store.save(Counter(value: i), for: "room"); try await f.store.save(Counter(value: i), for: "other") }
        let values = await seen.value
        #expect(values.last == 3 && values == values.sorted())
        await f.finish()
    }
}
}
