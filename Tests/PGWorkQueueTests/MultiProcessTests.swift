import Foundation
import PGClient
import PGStoreSupport
import PGTestSupport
import PGWorkQueue
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension WorkQueueSuites {
/// Worker processes drain one queue while the test SIGKILLs one of them every ~0.5 s and starts a new one
/// in its place. Each batch's completion and its ledger rows commit in one transaction in the worker, so
/// the ledger is exactly what the queue saw completed.
@Suite struct MultiProcessTests {
    @Test func fourWorkersWithKillsLoseNothingAndDoNothingTwice() async throws {
        let f = try await QueueFixture.make()
        let total = 10_000, kills = 20
        let settings = PGQueueSettings(name: "drain", leaseTimeout: .seconds(1), partitions: 2)
        let q = try await f.store.createQueue(settings)
        let ledger = PGLedger(schema: f.schema)
        try await ledger.create(on: f.admin)
        let started = ContinuousClock.now
        for chunk in stride(from: 0, to: total, by: 500) {
            let batch = (chunk..<min(total, chunk + 500)).map { PGQueueItem(payload: Data("\($0)".utf8), sourceID: "item-\($0)") }
            #expect(try await q.produce(batch).allSatisfy { $0 != nil })
        }
        let produced = ContinuousClock.now - started
        func spawn(_ i: Int, generation: Int) throws -> PGWorkerProcess {
            try PGWorkerProcess.start("queue-consumer", arguments: [
                "--url", f.pg.url(), "--schema", f.schema, "--queue", "drain", "--worker", "w\(i).\(generation)",
                "--batch", "20", "--work-ms", "2",
            ], label: "consumer \(i).\(generation)")
        }
        var workers = try (0..<4).map { try spawn($0, generation: 0) }
        for w in workers { _ = try await w.waitForEvent(named: "ready", timeout: .seconds(60)) }
        let drainStart = ContinuousClock.now
        var killed = 0
        while killed < kills {
            try await Task.sleep(for: .milliseconds(Int.random(in: 300...700)))
            let i = Int.random(in: 0..<workers.count)
            workers[i].kill()
            _ = try? await workers[i].waitForExit(timeout: .seconds(5))
            killed += 1
            workers[i] = try spawn(i, generation: killed)
        }
        let done = try await eventually(.seconds(180)) { try await ledger.count(.processed, on: f.admin) >= total }
        let drained = ContinuousClock.now - drainStart
        let processedCount = try await ledger.count(.processed, on: f.admin)
        #expect(done, "only \(processedCount) of \(total) processed")
        try await Task.sleep(for: .milliseconds(300))
        _ = await PGWorkerProcess.killAll(workers)
        let expected = (0..<total).map { "item-\($0)" }
        let duplicates = try await ledger.duplicates(.processed, on: f.admin)
        let missing = try await ledger.missing(.processed, expected: expected, on: f.admin)
        let entries = try await ledger.entries(.processed, on: f.admin)
        let reprocessed = entries.filter { ($0.value ?? 1) > 1 }.count
        let left = try await f.count(q.tableNames[0]) + (try await f.count(q.tableNames[1]))
        let fenced = workers.flatMap(\.events).filter { $0.name == "batch" }.compactMap { $0["fenced"].flatMap(Int.init) }.reduce(0, +)
        print("queue kill test: \(total) items produced in \(produced), drained by 4 processes in \(drained) with \(killed) SIGKILLs; "
              + "processed \(entries.count), duplicates \(duplicates.count), missing \(missing.count), left in tables \(left), "
              + "completed on a later attempt \(reprocessed), fenced completions (surviving workers) \(fenced)")
        #expect(duplicates.isEmpty, "completed twice: \(duplicates.prefix(5))")
        #expect(missing.isEmpty, "lost: \(missing.prefix(5))")
        #expect(entries.count == total)
        #expect(left == 0)
        // Every re-processing is accounted for by attempts: items completed on attempt > 1 were leased before
        // by a worker that died (or whose lease ran out); none is completed twice.
        #expect(entries.allSatisfy { ($0.value ?? 0) >= 1 })
        await f.finish()
    }

    /// The server restarts mid-drain (its own TemporaryPostgres): the workers resume by themselves.
    @Test func workersResumeAfterAServerRestart() async throws {
        let pg = try await TemporaryPostgres.start()
        defer { Task { await pg.stop() } }
        let schema = "q_restart"
        var configuration = PGWorkQueueStore.Configuration(schemaName: schema)
        configuration.autoCreate = true
        let store = try PGWorkQueueStore(.url(pg.url()), configuration: configuration)
        try await store.start()
        let q = try await store.createQueue(PGQueueSettings(name: "restart", leaseTimeout: .seconds(1)))
        let total = 3_000
        for chunk in stride(from: 0, to: total, by: 500) {
            _ = try await q.produce((chunk..<chunk + 500).map { PGQueueItem(payload: Data(), sourceID: "item-\($0)") })
        }
        let admin = try await PGConnection.connect(try PGConnectionConfiguration(url: pg.url()))
        let ledger = PGLedger(schema: schema)
        try await ledger.create(on: admin)
        await admin.close()
        let workers = try PGWorkerProcess.start(count: 2, "queue-consumer") { i in
            ["--url", pg.url(), "--schema", schema, "--queue", "restart", "--worker", "w\(i)", "--batch", "10", "--work-ms", "5"]
        }
        defer { Task { _ = await PGWorkerProcess.killAll(workers) } }
        for w in workers { _ = try await w.waitForEvent(named: "ready", timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(700))
        let restartedAt = ContinuousClock.now
        try await pg.restart()
        let check = try await PGConnection.connect(try PGConnectionConfiguration(url: pg.url()))
        let resumed = try await eventually(.seconds(30)) {
            let processed = try await ledger.count(.processed, on: check)
            return workers.allSatisfy { w in w.events.contains { $0.name == "retrying" } } && processed > 0
        }
        let done = try await eventually(.seconds(120)) { try await ledger.count(.processed, on: check) >= total }
        let took = ContinuousClock.now - restartedAt
        let duplicates = try await ledger.duplicates(.processed, on: check)
        let missing = try await ledger.missing(.processed, expected: (0..<total).map { "item-\($0)" }, on: check)
        print("queue restart test: \(total) items, server restarted mid-drain; drained \(took) after the restart; "
              + "duplicates \(duplicates.count), missing \(missing.count)")
        #expect(resumed && done)
        #expect(duplicates.isEmpty && missing.isEmpty)
        _ = await PGWorkerProcess.killAll(workers)
        await check.close()
        await store.shutdown()
    }
}
}
