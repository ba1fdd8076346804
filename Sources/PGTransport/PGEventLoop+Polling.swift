import CTuskShims
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Polling for a reply instead of parking: in place (a task on the loop, or a borrower, reading its own socket)
/// and the loop's own poll before it parks; the back-off; and the poll budget, which follows what a park costs.
extension PGEventLoop {
    // MARK: Polling in place (a task on the loop waiting for its own reply)

    /// Starts a poll in place: a task running on this loop sent a request and, rather than suspend until the
    /// reply, reads its socket in a loop of its own (`keepPollingInPlace`, `endPollInPlace`), so a fast reply
    /// needs no suspension, no job and no wake-up. Returns false when the loop should not poll now: polling is
    /// off or backing off, other work is queued, a timer is due. Writes what every handler queued this turn
    /// first (the caller's request included). Loop thread only.
    public func beginPollInPlace() -> Bool {
        assert(inEventLoop)
        guard pollNanoseconds > 0, ls.localJobs.isEmpty, ls.jobsLeftInBatch == 0,
              !foreignWork.load(ordering: .relaxed) else { return false }
        if ls.pollsToSkip > 0 {
            ls.pollsToSkip -= 1
            ls.replyAwaited = false
            return false
        }
        let now = PGClock.nowNanoseconds()
        if let timer = timers.first?.deadline, timer <= now { return false }
        flushAll()
        let budget = pollBudgetNanoseconds
        ls.pollInPlaceDeadline = now &+ budget
        ls.pollInPlaceGraceEnd = now &+ min(budget, Self.pollInPlaceGrace)
        return true
    }

    /// How long a poll in place may go on once its reads have resumed other tasks on the loop (replies
    /// pipelined ahead of its own): stopping at once cost W2 on the loops ~12% here, and a long
    /// `pollBeforeParking` must not hold those tasks for its whole length.
    static let pollInPlaceGrace: UInt64 = 50_000

    /// Between two reads of a poll in place that found no reply: yields the core and returns true to read
    /// again, or returns false when the poll must stop. It stops for the loop's sake — another thread queued
    /// work (the loop is not parked, so that raises a flag, not the eventfd), the caller's reads resumed other
    /// tasks here and the grace (`pollInPlaceGrace`) is over, a timer is due, or, checked with an `epoll_wait`
    /// that does not block on every fourth `round`, a descriptor other than `fd` is ready (level-triggered: it
    /// is reported again when the loop waits) — and at the deadline, which backs off (the loop then parks
    /// without polling again for this reply).
    public func keepPollingInPlace(besides fd: Int32, round: Int) -> Bool {
        if foreignWork.load(ordering: .relaxed) || wanted.load(ordering: .relaxed) { return false }
        let now = PGClock.nowNanoseconds()
        if !ls.localJobs.isEmpty, now >= ls.pollInPlaceGraceEnd { return false }
        if let timer = timers.first?.deadline, timer <= now { return false }
        if now >= ls.pollInPlaceDeadline {
            recordPoll(foundSomething: false)
            ls.replyAwaited = false
            return false
        }
        if round & 3 == 3 {
            let n = ls.pollEvents.withUnsafeMutableBufferPointer { ctusk_epoll_wait(epfd, $0.baseAddress, 8, 0) }
            for i in 0..<Int(max(n, 0)) where ls.pollEvents[i].data != UInt64(UInt32(bitPattern: fd)) { return false }
        }
        sched_yield()
        return true
    }

    /// A poll in place got its reply: eases the back-off by one step.
    public func endPollInPlace() {
        recordPoll(foundSomething: true)
        ls.replyAwaited = false
    }

    /// How the loop's polls before parking have ended so far (in place and the loop's own): `answered` found
    /// what they polled for, `ranOut` used up the poll budget (`pollBudget`) and parked. Many `ranOut` against
    /// few `answered` mean the replies take longer than the budget (the back-off then keeps the cost low); a
    /// larger `pollBeforeParking` or `.zero` may suit such a workload better. Readable from any thread.
    ///
    /// ```swift
    /// let (answered, ranOut) = loop.pollCounts
    /// print("polls: \(answered) answered, \(ranOut) ran out")
    /// ```
    public var pollCounts: (answered: Int, ranOut: Int) {
        (pollsAnswered.load(ordering: .relaxed), pollsRanOut.load(ordering: .relaxed))
    }

    /// The back-off's bookkeeping after a poll (in place or the loop's own).
    private func recordPoll(foundSomething: Bool) {
        if foundSomething {
            pollsAnswered.add(1, ordering: .relaxed)
            ls.failedPolls = max(ls.failedPolls - 1, 0)
        } else {
            pollsRanOut.add(1, ordering: .relaxed)
            ls.failedPolls = min(ls.failedPolls + 1, 6)
            ls.pollsToSkip = (1 << ls.failedPolls) - 1
        }
    }

    // MARK: What parking costs, and the poll budget that follows

    /// How long a poll for a reply may go on now (`PGParkCostEstimate.budget`).
    @inline(__always) private var pollBudgetNanoseconds: UInt64 {
        PGParkCostEstimate.budget(configured: pollNanoseconds, parkCost: ls.parkCost.nanoseconds)
    }

    /// The calling thread's CPU time (µs) and how often it has slept; nil where the system cannot tell.
    private static func threadUsage() -> (cpu: UInt64, switches: UInt64)? {
        var cpu: UInt64 = 0
        var switches: UInt64 = 0
        return ctusk_thread_usage(&cpu, &switches) == 0 ? (cpu, switches) : nil
    }

    /// The thread's usage before a park, when this park is one to sample.
    func parkSampleStart() -> (cpu: UInt64, switches: UInt64)? {
        guard ls.parkCost.sampleThisPark() else { return nil }
        guard let usage = Self.threadUsage() else {
            ls.parkCost.stopSampling()
            return nil
        }
        return usage
    }

    /// Records a sampled park's CPU cost when the thread really slept (a park that found events ready at once
    /// teaches nothing; the next park is sampled instead).
    func parkSampleEnd(_ before: (cpu: UInt64, switches: UInt64)) {
        guard let after = Self.threadUsage(), after.switches > before.switches else { return }
        ls.parkCost.parked(costing: after.cpu &- before.cpu)
        publishedParkCost.store(ls.parkCost.nanoseconds, ordering: .relaxed)
    }

    /// What a park (sleeping in `epoll_wait` while a reply is awaited, then being woken) has been measured to
    /// cost this loop's thread in CPU time, as a moving average of sampled parks; nil until one was measured.
    /// The loop polls for replies at least this long (up to 1 ms), or `pollBeforeParking` when that is longer.
    /// Readable from any thread.
    ///
    /// ```swift
    /// if let cost = loop.parkCost { print("a park costs \(cost) of CPU; polls last \(loop.pollBudget)") }
    /// ```
    public var parkCost: Duration? {
        let ns = publishedParkCost.load(ordering: .relaxed)
        return ns == 0 ? nil : .nanoseconds(Int64(ns))
    }

    /// How long a poll for a reply lasts now (see `parkCost`): zero when polling is off. Readable from any thread.
    ///
    /// ```swift
    /// print(loop.pollBudget)   // 50 µs on a quiet machine
    /// ```
    public var pollBudget: Duration {
        .nanoseconds(Int64(PGParkCostEstimate.budget(configured: pollNanoseconds, parkCost: publishedParkCost.load(ordering: .relaxed))))
    }

    /// Polls the descriptors for up to the poll budget (`pollBudgetNanoseconds`), yielding the core between
    /// polls; returns the number of events (0: nothing came, park). Backs off after polls that found nothing.
    /// (`sleeping` is set, so work queued by other threads signals the eventfd, which is polled too.)
    func pollBeforeParking(_ events: inout [ctusk_event]) -> Int32 {
        if ls.pollsToSkip > 0 {
            ls.pollsToSkip -= 1
            return 0
        }
        // Not past the first timer's deadline: a poll must not delay a timer. Nor past the end of the budget
        // that a poll in place for the same reply started (it stopped early for the loop's sake).
        var deadline = min(PGClock.nowNanoseconds() &+ pollBudgetNanoseconds, timers.first?.deadline ?? .max)
        if ls.pollInPlaceDeadline != 0 {
            deadline = min(deadline, ls.pollInPlaceDeadline)
            ls.pollInPlaceDeadline = 0
        }
        var n: Int32 = 0
        repeat {
            n = events.withUnsafeMutableBufferPointer { ctusk_epoll_wait(epfd, $0.baseAddress, 64, 0) }
            if n != 0 { break }
            sched_yield()
        } while PGClock.nowNanoseconds() < deadline
        recordPoll(foundSomething: n > 0)
        return max(n, 0)
    }
}
