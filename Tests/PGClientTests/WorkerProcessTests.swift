import Foundation
import PGClient
import PGTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Worker processes (`tusk-test-worker`) against the test server: events, exits, SIGKILL mid-transaction.
@Suite struct WorkerProcessTests {
    @Test func eventLinesRoundTrip() {
        let e = PGWorkerEvent("locked", [(key: "key", value: "a b=c%\n✓"), (key: "id", value: "7")])
        #expect(e.line == "locked key=a%20b%3Dc%25%0A%E2%9C%93 id=7")
        let parsed = PGWorkerEvent(parsing: e.line)
        #expect(parsed == e)
        #expect(parsed["key"] == "a b=c%\n✓" && parsed.int("id") == 7)
        #expect(PGWorkerEvent(parsing: "done").name == "done")
        #expect(PGWorkerEvent(parsing: "oops: not=an event=").name == "unparsed")
        #expect(PGWorkerEvent(parsing: "x bad=%G1").name == "unparsed")
    }

    @Test func aWorkerReportsWhatItDidAndExits() async throws {
        let pg = try await TestDB.server()
        let worker = try PGWorkerProcess.start("ping", arguments: ["--url", pg.url()])
        let ready = try await worker.waitForEvent(named: "ready", timeout: .seconds(20))
        #expect(ready.int("one") == 1)
        #expect((ready.int("backend_pid") ?? 0) > 0)
        #expect(try await worker.waitForExit(timeout: .seconds(10)) == .exited(0))
        #expect(worker.events.first?.name == "start")
        #expect(worker.events.first?.int("pid") == Int(worker.pid))
        // A reaped worker is never signalled again.
        #expect(!worker.signal(SIGKILL))
    }

    @Test func aFailingWorkerSaysWhyAndExitsNonZero() async throws {
        let worker = try PGWorkerProcess.start("ping", arguments: ["--url", "postgres://u@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"])
        let error = try await worker.waitForEvent(named: "error", timeout: .seconds(20))
        #expect(error["message"]?.isEmpty == false)
        #expect(try await worker.waitForExit(timeout: .seconds(10)) == .exited(1))
        // Waiting for an event that never comes ends when the output does, not at the timeout.
        let start = ContinuousClock.now
        await #expect(throws: PGWorkerError.self) { try await worker.waitForEvent(named: "ready", timeout: .seconds(30)) }
        #expect(ContinuousClock.now - start < Promptly.bound)
    }

    @Test func closingItsInputEndsAWorker() async throws {
        let pg = try await TestDB.server()
        try await TestDB.withConnection { c in
            _ = try await c.execute("CREATE TABLE IF NOT EXISTS worker_input_t (id int PRIMARY KEY)")
            _ = try await c.execute("INSERT INTO worker_input_t VALUES (1) ON CONFLICT DO NOTHING")
        }
        let worker = try PGWorkerProcess.start(
            "hold-locks", arguments: ["--url", pg.url(), "--table", "worker_input_t", "--id", "1", "--lock", "424201"])
        try await worker.waitForEvent(named: "locked", timeout: .seconds(20))
        worker.closeInput()
        #expect(try await worker.waitForExit(timeout: Promptly.bound) == .exited(0))
        #expect(worker.events.last?["reason"] == "stdin-closed")
    }

    /// A worker SIGKILLed inside a transaction that holds a row lock and an advisory lock leaves neither
    /// behind: the server sees the socket close, rolls back, and the test takes both locks at once.
    @Test func aWorkerKilledMidTransactionLeavesNoLockBehind() async throws {
        let pg = try await TestDB.server()
        try await PGTestSchema.with(on: pg, prefix: "killlock") { schema in
            let c = try await PGConnection.connect(try schema.configuration())
            _ = try await c.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)")
            _ = try await c.execute("INSERT INTO accounts VALUES (1, 100)")
            let lockKey = Int64.random(in: 1_000_000...9_000_000)
            let worker = try PGWorkerProcess.start(
                "hold-locks",
                arguments: ["--url", schema.url(), "--table", "accounts", "--id", "1", "--lock", String(lockKey)])
            let locked = try await worker.waitForEvent(named: "locked", timeout: .seconds(20))
            let backend = try #require(locked.int("backend_pid"))

            // The locks are really held: neither can be taken now.
            #expect(try await c.queryOne("SELECT pg_try_advisory_lock(\(lockKey))", as: Bool.self) == false)
            do {
                _ = try await c.query("SELECT id FROM accounts WHERE id = 1 FOR UPDATE NOWAIT").collect()
                Issue.record("row lock not held by the worker")
            } catch let e as PGError {
                #expect(e.sqlState == .lockNotAvailable, "\(e)")
            }

            worker.kill()
            #expect(try await worker.waitForExit(timeout: Promptly.bound) == .signalled(SIGKILL))
            #expect(worker.events.last?.name == "locked", "the worker got past its hold: \(worker.summary())")

            // Both locks come free within a bounded time (the server notices the closed socket at once).
            let start = ContinuousClock.now
            _ = try await c.execute("SET lock_timeout = '15s'")
            try await c.withTransaction { tx in
                let row = try await tx.queryOne("SELECT balance FROM accounts WHERE id = 1 FOR UPDATE", as: Int.self)
                #expect(row == 100)
                _ = try await tx.execute("SELECT pg_advisory_xact_lock(\(lockKey))")
            }
            #expect(ContinuousClock.now - start < Promptly.bound)
            // And the backend is gone.
            let deadline = ContinuousClock.now + Promptly.bound
            var alive = 1
            repeat {
                alive = try await c.queryOne("SELECT count(*) FROM pg_stat_activity WHERE pid = \(Int32(backend))", as: Int.self)
                if alive != 0 { try await Task.sleep(for: .milliseconds(20)) }
            } while alive != 0 && ContinuousClock.now < deadline
            #expect(alive == 0)
            await c.close()
        }
    }

    /// N processes write the ledger of one schema; the ledger's checks see exactly what they did.
    @Test func workersWriteOneLedgerAndItsChecksSeeEveryEntry() async throws {
        let pg = try await TestDB.server()
        try await PGTestSchema.with(on: pg, prefix: "ledger") { schema in
            let ledger = PGLedger(schema: schema.name)
            let c = try await PGConnection.connect(try schema.configuration())
            try await ledger.create(on: c)
            let keys = (0..<30).map { "k\($0)" }
            // Three workers, ten keys each; worker 2 also does its last key twice (a duplicate to find).
            try await PGWorkerProcess.withWorkers(count: 3, "ledger-writer", arguments: { i in
                var mine = Array(keys[(i * 10)..<(i * 10 + 10)])
                if i == 2 { mine.append(mine[9]) }
                return ["--url", schema.url(), "--schema", schema.name, "--worker", "w\(i)", "--keys", mine.joined(separator: ",")]
            }) { workers in
                for w in workers {
                    let done = try await w.waitForEvent(named: "done", timeout: .seconds(30))
                    #expect(done.int("count") == (w.label.hasPrefix("worker 2") ? 11 : 10))
                    #expect(try await w.waitForExit(timeout: .seconds(10)) == .exited(0))
                }
            }
            #expect(try await ledger.count(.processed, on: c) == 31)
            #expect(try await ledger.missing(.processed, expected: keys + ["never"], on: c) == ["never"])
            #expect(try await ledger.duplicates(.processed, on: c) == ["k29": 2])
            #expect(try await ledger.unexpected(.processed, expected: Array(keys.dropLast()), on: c) == ["k29"])
            let entries = try await ledger.entries(.processed, on: c)
            #expect(Set(entries.map(\.worker)) == ["w0", "w1", "w2"])
            await c.close()
        }
    }

    /// A worker killed part-way: the ledger holds every entry it reported, plus at most the one whose
    /// commit raced the kill — never fewer, never a second copy.
    @Test func aWorkerKilledPartWayLeavesAConsistentLedger() async throws {
        let pg = try await TestDB.server()
        try await PGTestSchema.with(on: pg, prefix: "ledgerkill") { schema in
            let ledger = PGLedger(schema: schema.name)
            let keys = (0..<1000).map { "item\($0)" }
            let worker = try PGWorkerProcess.start("ledger-writer", arguments: [
                "--url", schema.url(), "--schema", schema.name, "--worker", "w", "--delay-ms", "10",
                "--keys", keys.joined(separator: ","),
            ])
            try await worker.waitForEvent(timeout: .seconds(30)) { $0.name == "recorded" && $0["key"] == "item9" }
            worker.kill()
            #expect(try await worker.waitForExit(timeout: Promptly.bound) == .signalled(SIGKILL))
            let reported = worker.events.filter { $0.name == "recorded" }.compactMap { $0["key"] }
            let c = try await PGConnection.connect(try schema.configuration())
            let stored = try await ledger.entries(.processed, on: c).map(\.key)
            #expect(stored.count >= reported.count && stored.count <= reported.count + 1, "reported \(reported.count), stored \(stored.count)")
            #expect(Array(stored.prefix(reported.count)) == reported)
            #expect(try await ledger.duplicates(.processed, on: c).isEmpty)
            #expect(stored.count < keys.count, "the kill came too late to test anything")
            await c.close()
        }
    }
}
