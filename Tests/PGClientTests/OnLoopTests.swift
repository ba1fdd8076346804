import Foundation
import PGClient
import PGTransport
import Synchronization
import Testing

/// Callers that run on the connection's own event loop (`withTaskExecutorPreference(connection.eventLoop)`) start
/// repeated statements synchronously, without the actor hop. The same guarantees must hold on that path.
@Suite struct OnLoopTests {
    @Test func repeatedStatementsReturnTheirOwnResults() async throws {
        try await TestDB.withConnection { c in
            let sum = try await withTaskExecutorPreference(c.eventLoop) { () async throws -> Int in
                var sum = 0
                for i in 0..<2_000 {
                    let v = try await c.queryOne("SELECT \(Int32(i))::int4 + 1", as: Int32.self)
                    #expect(Int(v) == i + 1)
                    sum += Int(v)
                }
                return sum
            }
            #expect(sum == (1...2_000).reduce(0, +))
        }
    }

    @Test func aServerErrorFailsOnlyItsQuery() async throws {
        try await TestDB.withConnection { c in
            try await withTaskExecutorPreference(c.eventLoop) { () async throws in
                #expect(try await c.queryOne("SELECT 10 / \(Int32(2))::int4", as: Int32.self) == 5)
                do {
                    _ = try await c.queryOne("SELECT 10 / \(Int32(0))::int4", as: Int32.self)
                    Issue.record("division by zero succeeded")
                } catch let e as PGError {
                    #expect(e.sqlState == .divisionByZero, "\(e)")
                }
                #expect(try await c.queryOne("SELECT 10 / \(Int32(5))::int4", as: Int32.self) == 2)
            }
        }
    }

    @Test func staleStatementsAreRecoveredOnTheFastPath() async throws {
        try await TestDB.withConnection { c in
            try await withTaskExecutorPreference(c.eventLoop) { () async throws in
                try await c.execute("CREATE TEMP TABLE onloop_t(a int)")
                try await c.execute("INSERT INTO onloop_t VALUES (1)")
                #expect(try await c.query("SELECT * FROM onloop_t WHERE a > $1", [Int32(0)]).collect()[0].count == 1)
                #expect(try await c.query("SELECT * FROM onloop_t WHERE a > $1", [Int32(0)]).collect()[0].count == 1)
                // The next run is the fast path's (the statement was used last): its result type changed.
                try await c.execute("ALTER TABLE onloop_t ADD COLUMN b text DEFAULT 'x'")
                _ = try await c.query("SELECT * FROM onloop_t WHERE a > $1", [Int32(0)]).collect()
                #expect(try await c.query("SELECT * FROM onloop_t WHERE a > $1", [Int32(0)]).collect()[0].count == 2)
                // The server forgets every statement (26000 on the next run): recovered as well.
                _ = try await c.simpleQuery("DEALLOCATE ALL")
                _ = try await c.query("SELECT * FROM onloop_t WHERE a > $1", [Int32(0)]).collect()
                _ = try await c.simpleQuery("DEALLOCATE ALL")
                #expect(try await c.query("SELECT * FROM onloop_t WHERE a > $1", [Int32(0)]).collect().count == 1)
            }
        }
    }

    @Test func cancellingAWaitingCallerCancelsTheQuery() async throws {
        try await expectSleepCancelledLongBeforeItEnds(onLoop: true)
    }

    @Test func aTimeoutCancelsTheQueryOnTheFastPath() async throws {
        try await TestDB.withConnection { c in
            try await withTaskExecutorPreference(c.eventLoop) { () async throws in
                try await c.execute("SELECT pg_sleep($1)", [0.0])
                do {
                    try await c.execute("SELECT pg_sleep($1)", [10.0], timeout: .milliseconds(200))
                    Issue.record("no timeout")
                } catch let e as PGError {
                    #expect(e.code == .timeout, "\(e)")
                }
                #expect(try await c.queryOne("SELECT 2", as: Int.self) == 2)
            }
        }
    }

    @Test func unnamedStatementsWorkOnTheFastPath() async throws {
        var config = try await TestDB.configuration()
        config.statementCacheSize = 0
        let c = try await PGConnection.connect(config)
        try await withTaskExecutorPreference(c.eventLoop) { () async throws in
            for i in 0..<50 {
                #expect(try await c.queryOne("SELECT \(Int32(i))::int4 * 2", as: Int32.self) == Int32(i * 2))
            }
            #expect(try await c.queryOne("SELECT count(*)::int8 FROM pg_prepared_statements", as: Int.self) == 0)
        }
        await c.close()
    }

    @Test func aQueryOnAClosedConnectionFailsAtOnce() async throws {
        let c = try await TestDB.connect()
        try await withTaskExecutorPreference(c.eventLoop) { () async throws in
            #expect(try await c.queryOne("SELECT \(Int32(1))::int4", as: Int32.self) == 1)
        }
        await c.close()
        try await withTaskExecutorPreference(c.eventLoop) { () async throws in
            do {
                _ = try await c.queryOne("SELECT \(Int32(1))::int4", as: Int32.self)
                Issue.record("a closed connection ran a query")
            } catch let e as PGError {
                #expect(e.code == .connectionClosed, "\(e)")
            }
        }
    }
}

/// Callers off the connection's loop hand a repeated statement to the loop as a closure and wait on their own
/// executor (no task run on the loop). Cancellation must work before and after the request starts.
@Suite struct SubmittedPathTests {
    @Test func manyCallersGetTheirOwnResults() async throws {
        try await TestDB.withConnection { c in
            _ = try await c.queryOne("SELECT \(Int32(0))::int4 + 1", as: Int32.self)
            let total = try await withThrowingTaskGroup(of: Int.self) { group in
                for t in 0..<16 {
                    group.addTask {
                        var sum = 0
                        for i in stride(from: t, to: 3_200, by: 16) {
                            let v = try await c.queryOne("SELECT \(Int32(i))::int4 + 1", as: Int32.self)
                            #expect(Int(v) == i + 1)
                            sum += Int(v)
                        }
                        return sum
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(total == (1...3_200).reduce(0, +))
        }
    }

    @Test func anAlreadyCancelledCallerFailsWithoutRunningTheStatement() async throws {
        try await TestDB.withConnection { c in
            try await c.execute("CREATE TEMP TABLE submitted_t(n int)")
            try await c.execute("INSERT INTO submitted_t VALUES (\(Int32(1)))")
            let task = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await c.execute("INSERT INTO submitted_t VALUES (\(Int32(2)))")
            }
            do {
                _ = try await task.value
                Issue.record("a cancelled caller ran its statement")
            } catch let e as PGError {
                #expect(e.code == .cancelled, "\(e)")
            }
            #expect(try await c.queryOne("SELECT count(*)::int8 FROM submitted_t", as: Int.self) == 1)
        }
    }

    @Test func cancellingAWaitingCallerCancelsTheQuery() async throws {
        try await expectSleepCancelledLongBeforeItEnds(onLoop: false)
    }
}

/// A loop that polls before parking (`PGEventLoop(pollBeforeParking:)`) while an on-loop task awaits a reply.
@Suite struct PollingLoopTests {
    /// The poll budget of the tests that time how soon a poll stops for something else, and the bound they hold
    /// it to: far enough apart that a poll waited out (≥ ~10 s) and a machine loaded by the other suites that
    /// plain `swift test` runs in parallel (seen: 1.4 s) are told apart.
    static let budget: Duration = .seconds(10)
    static let bound: Duration = .seconds(5)

    /// While the loop polls for a reply that takes seconds, work another thread hands it runs at once: the eventfd
    /// that thread signals is among the descriptors polled. (With the eventfd missed, the job would wait out
    /// the ten-second poll; the 5 s bound leaves room for a machine loaded by suites running in parallel.)
    @Test func workFromOtherThreadsRunsWhileTheLoopPolls() async throws {
        let loop = try PGEventLoop(name: "poll-test", pollBeforeParking: Self.budget)
        let c = try await PGConnection.connect(try await TestDB.configuration(), eventLoop: loop)
        // Prepared and described on the loop, so the next run takes the on-loop path that has the loop poll.
        _ = try await Task(executorPreference: loop) { try await c.execute("SELECT pg_sleep($1)", [0.0]) }.value
        let slow = Task(executorPreference: loop) { try await c.execute("SELECT pg_sleep($1)", [15.0]) }
        try await Task.sleep(for: .milliseconds(200))
        for _ in 0..<3 {
            let handed = ContinuousClock.now
            let ran = await withCheckedContinuation { (cont: CheckedContinuation<ContinuousClock.Instant, Never>) in
                loop.execute { cont.resume(returning: ContinuousClock.now) }
            }
            #expect(ran - handed < Self.bound, "the job waited \(ran - handed)")
        }
        slow.cancel()
        _ = try? await slow.value
        #expect(try await c.queryOne("SELECT 1", as: Int.self) == 1)
        await c.close()
    }

    /// While a task on the loop polls its own socket for a slow reply, a descriptor of another connection on
    /// the same loop that becomes ready (a notification arriving) stops the poll, so the loop delivers it at
    /// once rather than after the ten-second budget.
    @Test func anotherConnectionsEventStopsAPollInPlace() async throws {
        let loop = try PGEventLoop(name: "poll-test", pollBeforeParking: Self.budget)
        let config = try await TestDB.configuration()
        let c = try await PGConnection.connect(config, eventLoop: loop)
        let listener = try await PGConnection.connect(config, eventLoop: loop)
        let sender = try await TestDB.connect()
        let events = try await listener.listen("tusk_poll_in_place")
        _ = try await Task(executorPreference: loop) { try await c.execute("SELECT pg_sleep($1)", [0.0]) }.value
        let slow = Task(executorPreference: loop) { try await c.execute("SELECT pg_sleep($1)", [15.0]) }
        for i in 0..<3 {
            try await Task.sleep(for: .milliseconds(100))
            let sent = ContinuousClock.now
            try await sender.notify(channel: "tusk_poll_in_place", payload: "n\(i)")
            var iterator = events.makeAsyncIterator()
            let n = try await iterator.next()
            #expect(n?.payload == "n\(i)")
            #expect(ContinuousClock.now - sent < Self.bound, "delivered after \(ContinuousClock.now - sent)")
        }
        slow.cancel()
        _ = try? await slow.value
        #expect(try await c.queryOne("SELECT 1", as: Int.self) == 1)
        await sender.close()
        await listener.close()
        await c.close()
    }

    /// A task polling in place for a slow reply also reads the replies pipelined ahead of it: the tasks those
    /// resume run within a short grace, not after its own reply or its whole (here ten-second) budget.
    @Test func tasksResumedByAPollInPlaceRunWithoutWaitingForIt() async throws {
        let loop = try PGEventLoop(name: "poll-test", pollBeforeParking: Self.budget)
        let c = try await PGConnection.connect(try await TestDB.configuration(), eventLoop: loop)
        _ = try await Task(executorPreference: loop) { try await c.execute("SELECT pg_sleep($1)", [0.0]) }.value
        let started = ContinuousClock.now
        let first = Task(executorPreference: loop) { () async throws -> Duration in
            try await c.execute("SELECT pg_sleep($1)", [0.1])
            return ContinuousClock.now - started
        }
        try await Task.sleep(for: .milliseconds(20))
        // Pipelined behind the first; its task polls in place and reads the first one's reply.
        let second = Task(executorPreference: loop) { try await c.execute("SELECT pg_sleep($1)", [15.0]) }
        let elapsed = try await first.value
        // About 0.1 s; held for the budget or the second reply, it would be past 10 s.
        #expect(elapsed < Self.bound, "the first task resumed after \(elapsed)")
        second.cancel()
        _ = try? await second.value
        await c.close()
    }

    /// A request larger than the socket takes at once (a 64 MB value) is not left half-written while its task
    /// polls in place: the poll hands over to the loop at once, which writes the rest as the socket drains, so
    /// no poll spins out its (one-second) budget with the request stuck. Checked by the loop's poll counts, not
    /// by the clock: the transfer itself takes from 0.25 s to about 1 s depending on the machine.
    @Test func aRequestTheSocketTakesInPartsIsStillWrittenWhilePolling() async throws {
        let loop = try PGEventLoop(name: "poll-test", pollBeforeParking: .seconds(1))
        let c = try await PGConnection.connect(try await TestDB.configuration(), eventLoop: loop)
        let big = [UInt8](repeating: 7, count: 64 << 20)
        let lengthOf = { @Sendable (value: [UInt8]) async throws -> Int in
            try await Task(executorPreference: loop) {
                try await c.query("SELECT length($1::bytea)", [value]).collect()[0].decode(Int.self, column: 0)
            }.value
        }
        #expect(try await lengthOf([1]) == 1)
        let before = loop.pollCounts
        #expect(try await lengthOf(big) == big.count)
        let after = loop.pollCounts
        #expect(after.ranOut == before.ranOut, "a poll ran out its budget: \(before) -> \(after)")
        #expect(after.answered > before.answered, "the loop never polled: \(before) -> \(after)")
        await c.close()
    }

    /// A reply gets one budget of polling in all: when a poll in place stops early for the loop's sake, the
    /// loop's own poll for the same reply ends where the first one would have, not a whole budget later.
    /// Measured as the loop thread's CPU time over a 2.5 s query whose poll in place is interrupted at 0.9 s:
    /// about 1.0 s with one budget, about 1.9 s with two.
    @Test func aReplyGetsOneBudgetOfPolling() async throws {
        let loop = try PGEventLoop(name: "poll-test", pollBeforeParking: .seconds(1))
        let c = try await PGConnection.connect(try await TestDB.configuration(), eventLoop: loop)
        _ = try await Task(executorPreference: loop) { try await c.execute("SELECT pg_sleep($1)", [0.0]) }.value
        let threadCPU = { @Sendable () async -> Duration in
            await withCheckedContinuation { (cont: CheckedContinuation<Duration, Never>) in
                loop.execute {
                    var t = timespec()
                    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
                    cont.resume(returning: .seconds(t.tv_sec) + .nanoseconds(t.tv_nsec))
                }
            }
        }
        let before = await threadCPU()
        let slow = Task(executorPreference: loop) { try await c.execute("SELECT pg_sleep($1)", [2.5]) }
        try await Task.sleep(for: .milliseconds(900))
        loop.execute {}  // work from another thread: the poll in place stops for it
        _ = try await slow.value
        let used = await threadCPU() - before
        #expect(used < .milliseconds(1450), "the loop's thread used \(used) of CPU")
        await c.close()
    }

    /// Polling changes when the loop sleeps, not what it does: pipelined and sequential queries from tasks on a
    /// polling loop and on a loop that never polls return the same, right results.
    /// Parks for replies are measured (what they cost the loop's thread in CPU time), and the poll budget grows to
    /// that cost: poll for at most what parking costs, never less than `pollBeforeParking`, never more than 1 ms.
    @Test func thePollBudgetFollowsWhatAParkCosts() async throws {
        let loop = try PGEventLoop(name: "poll-test", pollBeforeParking: .nanoseconds(1))
        #expect(loop.parkCost == nil)
        #expect(loop.pollBudget == .nanoseconds(1))
        let c = try await PGConnection.connect(try await TestDB.configuration(), eventLoop: loop)
        // Replies that take 2 ms outlast every poll: the loop parks for them, and samples what a park costs.
        try await withTaskExecutorPreference(loop) { () async throws in
            for _ in 0..<40 { _ = try await c.query("SELECT pg_sleep(0.002)").collect() }
        }
        await c.close()
        let cost = try #require(loop.parkCost)
        #expect(cost >= .microseconds(1) && cost <= .milliseconds(1), "\(cost)")
        #expect(loop.pollBudget == max(.nanoseconds(1), cost))
        // Polling off stays off, whatever parking costs.
        let quiet = try PGEventLoop(name: "poll-test", pollBeforeParking: .zero)
        #expect(quiet.pollBudget == .zero)
    }

    @Test(arguments: [Duration.zero, .microseconds(50), .milliseconds(5)])
    func queriesOnTheLoopReturnTheirResults(poll: Duration) async throws {
        let loop = try PGEventLoop(name: "poll-test", pollBeforeParking: poll)
        let c = try await PGConnection.connect(try await TestDB.configuration(), eventLoop: loop)
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for t in 0..<4 {
                group.addTask(executorPreference: loop) {
                    var sum = 0
                    for i in 0..<500 { sum += Int(try await c.queryOne("SELECT \(Int32(t * 500 + i))::int4 + 1", as: Int32.self)) }
                    return sum
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(total == (1...2_000).reduce(0, +))
        await c.close()
    }
}

/// A plain task (not on the connection's loop) whose query finds the loop idle and parked borrows it: it sends
/// and reads the reply itself, with no thread hop and no wake-up (`PGEventLoop.borrowIfParked`).
@Suite(.serialized) struct BorrowedLoopTests {
    /// The CPU time the loop's own thread has used.
    static func threadCPU(of loop: PGEventLoop) async -> Duration {
        await withCheckedContinuation { (cont: CheckedContinuation<Duration, Never>) in
            loop.execute {
                var t = timespec()
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
                cont.resume(returning: .seconds(t.tv_sec) + .nanoseconds(t.tv_nsec))
            }
        }
    }

    /// 5,000 sequential queries from a plain task get their own results while the loop's thread sleeps
    /// through them (without borrowing it would wake twice per query: 50 ms or more of its CPU).
    @Test func sequentialQueriesFromAPlainTaskBorrowTheIdleLoop() async throws {
        // A long poll budget, so that no reply outlasts it in a slow (debug) build and goes back to the loop.
        let loop = try PGEventLoop(name: "borrow-test", pollBeforeParking: .seconds(1))
        let c = try await PGConnection.connect(try await TestDB.configuration(), eventLoop: loop)
        _ = try await c.queryOne("SELECT \(Int32(0))::int4 + 1", as: Int32.self)
        let before = await Self.threadCPU(of: loop)
        let sum = try await Task.detached {
            var sum = 0
            for i in 0..<5_000 { sum += Int(try await c.queryOne("SELECT \(Int32(i))::int4 + 1", as: Int32.self)) }
            return sum
        }.value
        let used = await Self.threadCPU(of: loop) - before
        #expect(sum == (1...5_000).reduce(0, +))
        #expect(used < .milliseconds(20), "the loop's thread used \(used) of CPU")
        await c.close()
    }

    /// How soon the loop must serve others while borrowed. Not served, they would wait until the borrowing stops
    /// (never, here), so any bound tells; 5 s rather than 0.5 s holds also while the suites that plain
    /// `swift test` runs in parallel load the machine (seen: 0.98 s).
    static let bound: Duration = .seconds(5)

    /// While a plain task keeps borrowing the loop, the loop still serves everything else it owns: work other
    /// threads hand it, a timer, and another connection's notifications, each within ``bound``.
    @Test func aBorrowedLoopStillServesEverythingElse() async throws {
        let loop = try PGEventLoop(name: "borrow-test")
        let config = try await TestDB.configuration()
        let c = try await PGConnection.connect(config, eventLoop: loop)
        let listener = try await PGConnection.connect(config, eventLoop: loop)
        let sender = try await TestDB.connect()
        let events = try await listener.listen("tusk_borrowed_loop")
        let stop = Atomic<Bool>(false)
        let hammer = Task.detached {
            var n = 0
            while !stop.load(ordering: .relaxed) {
                n += try await c.queryOne("SELECT \(Int32(n & 0xFFFF))::int4 + 1", as: Int32.self) > 0 ? 1 : 0
            }
            return n
        }
        try await Task.sleep(for: .milliseconds(100))
        var iterator = events.makeAsyncIterator()
        for i in 0..<5 {
            let handed = ContinuousClock.now
            let ran = await withCheckedContinuation { (cont: CheckedContinuation<ContinuousClock.Instant, Never>) in
                loop.execute { cont.resume(returning: ContinuousClock.now) }
            }
            #expect(ran - handed < Self.bound, "a job waited \(ran - handed)")
            let timerFired = await withCheckedContinuation { (cont: CheckedContinuation<ContinuousClock.Instant, Never>) in
                loop.execute { loop.scheduleTimer(after: .milliseconds(20)) { cont.resume(returning: ContinuousClock.now) } }
            }
            #expect(timerFired - ran < Self.bound, "a 20 ms timer fired after \(timerFired - ran)")
            let sent = ContinuousClock.now
            try await sender.notify(channel: "tusk_borrowed_loop", payload: "n\(i)")
            #expect(try await iterator.next()?.payload == "n\(i)")
            #expect(ContinuousClock.now - sent < Self.bound, "delivered after \(ContinuousClock.now - sent)")
        }
        stop.store(true, ordering: .relaxed)
        #expect(try await hammer.value > 100)
        await sender.close()
        await listener.close()
        await c.close()
    }
}

/// The loop's thread, as tools outside the process see it.
@Suite struct EventLoopThreadTests {
    /// `top -H`, `perf` and debuggers show a loop's thread by its name (Linux keeps 15 bytes, cut at a character).
    @Test func theLoopsThreadCarriesItsName() async throws {
        let loop = try PGEventLoop(name: "tusk-io-näme-cut-here", pollBeforeParking: .zero)
        let comm = await withCheckedContinuation { (cont: CheckedContinuation<String, Never>) in
            loop.execute {
                let text = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "unreadable"
                cont.resume(returning: text.trimmingCharacters(in: .newlines))
            }
        }
        #expect(loop.name == "tusk-io-näme-cut-here")
        #expect(comm == "tusk-io-näme-c", "the thread is named \(comm)")
    }
}

@Suite struct SingleReaderTests {
    /// The result stays open until the test lets it end (its last row waits for an advisory lock the test
    /// holds), so the second reader certainly comes while the first is reading, however loaded the machine
    /// (suites running in parallel) — a fixed pause was seen outlasted there.
    @Test func aSecondConcurrentReaderGetsATypedErrorInsteadOfWaitingForever() async throws {
        let gate = try await TestDB.connect()
        let key = Int64.random(in: 1_000_000...9_000_000)
        _ = try await gate.execute("SELECT pg_advisory_lock(\(key))")
        try await TestDB.withConnection { c in
            // 100 KB of rows arrive at once (the server flushes its buffer), then the last row once the gate opens.
            let rows = try await c.query(
                "SELECT repeat('x', 100) FROM generate_series(1, 1000) UNION ALL SELECT 'end' FROM (SELECT pg_advisory_xact_lock(\(key))) g")
            // The first reader takes the rows that came (one batch) and then waits for more: the second comes once
            // its count has stood still for half a second, so it meets a reader that is waiting, not one still
            // going through its batch.
            let seen = Atomic<Int>(0)
            let first = Task {
                var n = 0
                for try await _ in rows {
                    n += 1
                    seen.store(n, ordering: .relaxed)
                }
                return n
            }
            _ = try await within(.seconds(30), "the first reader's rows") {
                var last = -1
                var stillSince = ContinuousClock.now
                while true {
                    let now = seen.load(ordering: .relaxed)
                    if now != last { last = now; stillSince = ContinuousClock.now }
                    if now > 0, ContinuousClock.now - stillSince >= .milliseconds(500) { return now }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            do {
                // Refused at once; accepted, it would wait for the gate, and the bound ends the wait.
                _ = try await within(.seconds(10), "the second reader") { try await rows.collect().count }
                Issue.record("a second concurrent reader was accepted")
            } catch let e as PGError {
                #expect(e.code == .misuse, "\(e)")
            }
            _ = try await gate.execute("SELECT pg_advisory_unlock(\(key))")
            #expect(try await within(.seconds(10), "the first reader") { try await first.value } == 1001)
            #expect(try await c.queryOne("SELECT 2", as: Int.self) == 2)
        }
        await gate.close()
    }
}

/// Runs a long `SELECT pg_sleep` from a task (on the connection's loop, or on the default executor) after preparing
/// it there, so the sleeping run takes that caller's short path; cancels the task and expects the query cancelled
/// long before the sleep would end (``Promptly``: a 1 s bound was seen missed under the load of plain
/// `swift test`), the connection still usable.
private func expectSleepCancelledLongBeforeItEnds(onLoop: Bool) async throws {
    let c = try await TestDB.connect()
    let executor: (any TaskExecutor)? = onLoop ? c.eventLoop : nil
    _ = try await Task(executorPreference: executor) { try await c.execute("SELECT pg_sleep($1)", [0.0]) }.value
    let task = Task(executorPreference: executor) { try await c.execute("SELECT pg_sleep($1)", [Promptly.sleepSeconds]) }
    try await Task.sleep(for: .milliseconds(300))
    let started = ContinuousClock.now
    task.cancel()
    do {
        _ = try await task.value
        Issue.record("the sleep was not cancelled")
    } catch let e as PGError {
        #expect(e.code == .cancelled || e.sqlState == .queryCanceled, "\(e)")
    }
    #expect(ContinuousClock.now - started < Promptly.bound, "cancelled after \(ContinuousClock.now - started)")
    #expect(try await c.queryOne("SELECT 1", as: Int.self) == 1)
    await c.close()
}
