import CTuskShims
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Something that owns a file descriptor registered with an event loop. Called on the loop's thread only.
public protocol PGEventHandler: AnyObject, Sendable {
    /// The descriptor became readable (or hung up / errored: the read will tell).
    func eventLoopReadable()
    /// The descriptor became writable (only while write interest is on).
    func eventLoopWritable()
    /// End of a loop iteration: write what was queued during it, once.
    func eventLoopFlush()
}

/// One I/O thread: an epoll loop that is a Swift `TaskExecutor` and provides a serial executor for actors.
///
/// Jobs enqueued from other threads wake it through an eventfd; jobs enqueued from the loop itself run in
/// the same iteration with no syscall. Connection actors use the loop's serial executor
/// (`asUnownedSerialExecutor()`), so resuming a waiter after a reply costs no thread hop.
///
/// The two faces have separate identities: a job of a task that prefers the loop runs as non-isolated code,
/// a job of an actor runs isolated to the serial face. (Run as isolated, a task's non-isolated code would
/// switch executors — one more enqueue and run — at every return from an `await`.)
///
/// ```swift
/// let loop = PGEventLoopGroup.shared.next()
/// await withTaskExecutorPreference(loop) {
///     // runs on the loop's thread
/// }
/// ```
public final class PGEventLoop: TaskExecutor, @unchecked Sendable {
    /// A queued job, and whether it belongs to an actor on the loop (run isolated to the serial face) or to a
    /// task that prefers the loop (run as non-isolated code).
    struct LoopJob {
        let job: UnownedJob
        let isolated: Bool
    }

    /// The serial executor of the actors that live on this loop.
    private final class SerialFace: SerialExecutor, @unchecked Sendable {
        unowned(unsafe) let loop: PGEventLoop
        init(loop: PGEventLoop) { self.loop = loop }
        func enqueue(_ job: consuming ExecutorJob) { loop.enqueue(LoopJob(job: UnownedJob(job), isolated: true)) }
        func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }
        func checkIsolated() { precondition(loop.inEventLoop, "not on the event loop's thread") }
        func isIsolatingCurrentContext() -> Bool? { loop.inEventLoop }
    }
    private var serialFace: SerialFace!
    /// The loop's name; its thread carries it (first 15 bytes), as `top -H`, `perf` and debuggers show.
    public let name: String

    private struct Pending {
        var jobs: [LoopJob] = []
        var closures: [@Sendable () -> Void] = []
        var sleeping = false
    }

    let epfd: Int32
    private let wakeFD: Int32
    private let pending = PGLock(Pending())
    /// Set (under `pending`'s lock) when another thread queued work; lets the loop skip the lock when none
    /// came. A set that races with the check is seen at the loop's next turn, which checks under the lock.
    let foreignWork = Atomic<Bool>(false)
    @usableFromInline let threadID = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    /// Who runs the loop's work: 0 its thread, 1 nobody (the thread is parked in `epoll_wait` and a caller
    /// may borrow the loop), 2 a caller that borrowed it (`borrowIfParked`).
    private let ownership = Atomic<Int>(0)
    /// The loop's thread woke while the loop was borrowed and waits for it back.
    let wanted = Atomic<Bool>(false)
    /// No requests in flight on the loop's connections, as last published (a hint; `ls.requestsInFlight` decides).
    private let idle = Atomic<Bool>(true)
    /// The id of the loop's own thread (`threadID` holds a borrower's while the loop is borrowed).
    private let ownThreadID = Atomic<Int>(0)
    @exclusivity(unchecked) private var firstTimerAtBorrow: UInt64 = .max
    /// Whether callers elsewhere may borrow the parked loop (`TUSK_BORROW_LOOP=0` turns it off).
    static let borrowing: Bool = {
        guard let v = getenv("TUSK_BORROW_LOOP") else { return true }
        return String(cString: v) != "0"
    }()
    let pollsAnswered = Atomic<Int>(0)
    /// `ls.parkCost`, published for readers on other threads (`parkCost`).
    let publishedParkCost = Atomic<UInt64>(0)
    let pollsRanOut = Atomic<Int>(0)
    /// State only the loop's thread touches, so it skips the run-time exclusivity check (a thread-local lookup
    /// on every access).
    struct LoopState {
        var handlers: [Int32: any PGEventHandler] = [:]
        var flushList: [any PGEventHandler] = []
        var flushing: [any PGEventHandler] = []
        var flushSet: Set<ObjectIdentifier> = []
        /// Jobs enqueued by the loop's own thread (a reply resuming a waiter): no lock, no wake-up.
        var localJobs: [LoopJob] = []
        /// The batch being run (swapped with the queues so draining never allocates).
        var runningJobs: [LoopJob] = []
        var runningClosures: [@Sendable () -> Void] = []
        /// A task on this loop sent a request since the loop last parked and waits here for the reply.
        var replyAwaited = false
        /// The back-off: its level (raised by a poll that found nothing, eased by one that found its reply), and
        /// how many chances to poll are still to be skipped.
        var failedPolls = 0
        var pollsToSkip = 0
        /// When the poll in place under way ends (and the loop's own poll for the same reply, if it stops
        /// early; 0: no poll in place since the last request), and until when it may go on while other tasks
        /// on the loop are ready to run.
        var pollInPlaceDeadline: UInt64 = 0
        var pollInPlaceGraceEnd: UInt64 = 0
        /// Requests in flight on the loop's connections (they report changes): a loop is borrowed only at 0.
        var requestsInFlight = 0
        /// Jobs of the batch being run that have not run yet (queued work a poll in place must not delay).
        var jobsLeftInBatch = 0
        var pollEvents = [ctusk_event](repeating: ctusk_event(), count: 8)
        /// What a park for a reply costs this thread in CPU time, from sampled parks.
        var parkCost = PGParkCostEstimate()
    }
    @exclusivity(unchecked) var ls = LoopState()
    @exclusivity(unchecked) var timers: [(deadline: UInt64, id: UInt64, body: () -> Void)] = []
    @exclusivity(unchecked) private var nextTimerID: UInt64 = 1
    private static let wakeToken: UInt64 = .max
    /// How long the loop polls before parking (0: never).
    let pollNanoseconds: UInt64

    /// The default for `pollBeforeParking`: 50 µs, or `TUSK_POLL_BEFORE_PARKING_US` microseconds when set.
    public static let defaultPollBeforeParking: Duration = {
        if let v = getenv("TUSK_POLL_BEFORE_PARKING_US"), let n = Int(String(cString: v)), n >= 0 { return .microseconds(n) }
        return .microseconds(50)
    }()

    /// Starts a loop on a new thread.
    ///
    /// `pollBeforeParking`: when a task running on this loop has sent a request and waits for its reply, and
    /// the loop has nothing else to do, the wait polls for up to this long (yielding the core between polls)
    /// before anything sleeps: first the task reads its own socket in place (`beginPollInPlace`), then, if
    /// it had to suspend, the loop polls its descriptors before it parks in `epoll_wait`. A reply that arrives
    /// meanwhile is handled with no sleep and no wake-up, which on a virtual machine costs about what parking
    /// and being woken costs, and cuts the round trip. Polls that find nothing back off (the next 1, 3, 7 … up
    /// to 63 chances to poll are skipped; a poll that finds the reply eases it by one step), so slow queries
    /// cost little and a mix of fast and slow ones settles on rarely polling. A loop never polls for tasks
    /// waiting elsewhere (their wake-up is paid anyway, and a polling loop would compete with them for cores),
    /// nor while idle, nor past a timer's deadline. `.zero` turns it off; at most 1 s is used. This is the
    /// least a poll lasts: when parking has been measured to cost the loop's thread more CPU time than this
    /// (`parkCost`, a busy virtual machine), polls last that long instead, up to 1 ms (`pollBudget`).
    ///
    /// ```swift
    /// let quiet = try PGEventLoop(pollBeforeParking: .zero)
    /// ```
    public init(name: String = "tusk-io", pollBeforeParking: Duration = PGEventLoop.defaultPollBeforeParking) throws {
        let (seconds, attoseconds) = pollBeforeParking.components
        let nanoseconds = seconds < 0 ? 0 : UInt64(min(seconds, 1)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
        pollNanoseconds = min(nanoseconds, 1_000_000_000)
        self.name = name
        let ep = ctusk_epoll_create()
        guard ep >= 0 else { throw PGTransportError.system("epoll_create1", errno: ctusk_errno()) }
        let ev = ctusk_eventfd_create()
        guard ev >= 0 else {
            close(ep)
            throw PGTransportError.system("eventfd", errno: ctusk_errno())
        }
        epfd = ep
        wakeFD = ev
        _ = ctusk_epoll_add(epfd, wakeFD, CTUSK_EPOLLIN, Self.wakeToken)
        serialFace = SerialFace(loop: self)
        let box = Unmanaged.passRetained(self)
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attr, { arg in
            let loop = Unmanaged<PGEventLoop>.fromOpaque(arg!).takeRetainedValue()
            loop.run()
            return nil
        }, box.toOpaque())
        pthread_attr_destroy(&attr)
        guard rc == 0 else {
            box.release()
            throw PGTransportError.system("pthread_create", errno: rc)
        }
        pthread_detach(thread)
        while threadID.load(ordering: .acquiring) == 0 { sched_yield() }
    }

    /// True when called on this loop's thread.
    @inlinable public var inEventLoop: Bool { ctusk_thread_id() == threadIDValue }
    /// The id of this loop's thread (compare with `currentThreadID`).
    @inlinable public var threadIDValue: Int { threadID.load(ordering: .relaxed) }
    /// The calling thread's id, as loops record theirs.
    @inlinable public static var currentThreadID: Int { ctusk_thread_id() }

    // MARK: Executor conformance

    public func enqueue(_ job: consuming ExecutorJob) {
        enqueue(LoopJob(job: UnownedJob(job), isolated: false))
    }

    private func enqueue(_ unowned: LoopJob) {
        if inEventLoop {
            ls.localJobs.append(unowned)
            return
        }
        let wake = pending.withLock { p -> Bool in
            p.jobs.append(unowned)
            foreignWork.store(true, ordering: .releasing)
            if p.sleeping {
                p.sleeping = false
                return true
            }
            return false
        }
        if wake { _ = ctusk_eventfd_signal(wakeFD) }
    }

    /// The serial executor for actors living on this loop (their `unownedExecutor`).
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: serialFace)
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    /// Runs `body` on the loop's thread (soon; in order with other enqueued work).
    public func execute(_ body: @escaping @Sendable () -> Void) {
        let wake = pending.withLock { p -> Bool in
            p.closures.append(body)
            foreignWork.store(true, ordering: .releasing)
            if p.sleeping {
                p.sleeping = false
                return true
            }
            return false
        }
        if wake { _ = ctusk_eventfd_signal(wakeFD) }
    }

    // MARK: Registration (loop thread only)

    /// Registers a handler for `fd` with read interest.
    public func register(fd: Int32, handler: any PGEventHandler) throws {
        precondition(inEventLoop)
        guard ctusk_epoll_add(epfd, fd, CTUSK_EPOLLIN | CTUSK_EPOLLRDHUP, UInt64(UInt32(bitPattern: fd))) == 0 else {
            throw PGTransportError.system("epoll_ctl(ADD)", errno: ctusk_errno())
        }
        ls.handlers[fd] = handler
    }

    /// Changes interest for a registered descriptor.
    public func setInterest(fd: Int32, read: Bool, write: Bool) {
        precondition(inEventLoop)
        var events: UInt32 = CTUSK_EPOLLRDHUP
        if read { events |= CTUSK_EPOLLIN }
        if write { events |= CTUSK_EPOLLOUT }
        _ = ctusk_epoll_mod(epfd, fd, events, UInt64(UInt32(bitPattern: fd)))
    }

    /// Removes a descriptor (does not close it).
    public func deregister(fd: Int32) {
        precondition(inEventLoop)
        if ls.handlers.removeValue(forKey: fd) != nil {
            _ = ctusk_epoll_del(epfd, fd)
        }
    }

    /// A task on this loop sent a request and will wait here for the reply: when the loop runs out of work it
    /// polls before parking (see `pollBeforeParking`). Loop thread only.
    public func expectReplyOnLoop() {
        assert(inEventLoop)
        ls.replyAwaited = true
        ls.pollInPlaceDeadline = 0
    }

    // MARK: Borrowing the loop (a caller elsewhere acting as the loop while its thread is parked)

    /// When the loop's thread is parked with nothing to do, lets the calling thread act as the loop (its
    /// state, its connections' actors) until `giveBack()`, so a request from a task elsewhere can be sent and
    /// its reply read right here, with no thread hop and no wake-up. Returns false (and changes nothing) when
    /// the loop is running or another caller has it. Between the two calls the caller must not suspend.
    ///
    /// A connection still starting up has no request in flight, so its loop can be borrowed meanwhile: its
    /// replies then wait for the borrower's next probe of the other descriptors, a few reads at most.
    ///
    /// ```swift
    /// if loop.borrowIfParked() {
    ///     defer { loop.giveBack() }
    ///     // Synchronous work as the loop: start a request, read its reply in place.
    /// }
    /// ```
    public func borrowIfParked() -> Bool {
        // Not from another loop's thread: its own loop would wait while it polls here. Not without polling:
        // the borrow would only move the send, and the reply would still wake the loop's thread.
        guard Self.borrowing, pollNanoseconds > 0, idle.load(ordering: .relaxed), !wanted.load(ordering: .relaxed),
              ctusk_is_loop_thread() == 0,
              ownership.compareExchange(expected: 1, desired: 2, ordering: .acquiring).exchanged else {
            return false
        }
        // Only an idle loop: with replies awaited on its connections, a borrower polling for its own would hold
        // up their tasks (W2 from plain tasks fell from ~103k to ~86k queries/s when any parked loop was borrowed).
        guard ls.requestsInFlight == 0 else {
            ownership.store(1, ordering: .releasing)
            return false
        }
        threadID.store(ctusk_thread_id(), ordering: .relaxed)
        firstTimerAtBorrow = timers.first?.deadline ?? .max
        return true
    }

    /// A connection's count of requests in flight changed by `delta` (owner of the loop only): a loop with
    /// requests in flight is not borrowed.
    ///
    /// ```swift
    /// loop.requestsInFlightChanged(by: 1)   // a request was queued
    /// ```
    public func requestsInFlightChanged(by delta: Int) {
        let was = ls.requestsInFlight
        ls.requestsInFlight = was &+ delta
        if (was == 0) != (ls.requestsInFlight == 0) { idle.store(ls.requestsInFlight == 0, ordering: .relaxed) }
    }

    /// Ends a borrow: the loop's thread takes over again, and is woken when the borrower left it work (jobs,
    /// output to write, a new timer).
    public func giveBack() {
        ls.replyAwaited = false
        flushAll()
        // The parked thread's wait ends at the first timer it knew of: wake it only for an earlier one.
        let wake = !ls.localJobs.isEmpty || !ls.flushList.isEmpty || (timers.first?.deadline ?? .max) < firstTimerAtBorrow
        threadID.store(ownThreadID.load(ordering: .relaxed), ordering: .relaxed)
        ownership.store(1, ordering: .releasing)
        if wake { _ = ctusk_eventfd_signal(wakeFD) }
    }

    /// Asks for `handler.eventLoopFlush()` at the end of this iteration (once, however often it is asked).
    public func scheduleFlush(_ handler: any PGEventHandler) {
        precondition(inEventLoop)
        if ls.flushList.count < 8 {
            // A short list (the usual case): a scan is cheaper than hashing.
            for h in ls.flushList where h === handler { return }
            ls.flushList.append(handler)
            if ls.flushList.count == 8 { for h in ls.flushList { ls.flushSet.insert(ObjectIdentifier(h)) } }
        } else if ls.flushSet.insert(ObjectIdentifier(handler)).inserted {
            ls.flushList.append(handler)
        }
    }

    /// Runs `body` on the loop after `delay`; returns an id for `cancelTimer`.
    @discardableResult
    public func scheduleTimer(after delay: Duration, _ body: @escaping () -> Void) -> UInt64 {
        precondition(inEventLoop)
        let (s, a) = delay.components
        let ns = UInt64(max(0, s)) &* 1_000_000_000 &+ UInt64(max(0, a / 1_000_000_000))
        let id = nextTimerID
        nextTimerID += 1
        let deadline = PGClock.nowNanoseconds() &+ ns
        let idx = timers.firstIndex { $0.deadline > deadline } ?? timers.count
        timers.insert((deadline, id, body), at: idx)
        return id
    }

    /// Cancels a timer that has not fired yet.
    public func cancelTimer(_ id: UInt64) {
        precondition(inEventLoop)
        timers.removeAll { $0.id == id }
    }

    // MARK: The loop

    private func run() {
        // Linux keeps 15 bytes of a thread's name; cut at a character boundary.
        var threadName = Substring(name)
        while threadName.utf8.count > 15 { threadName = threadName.dropLast() }
        ctusk_set_thread_name(String(threadName))
        ownThreadID.store(ctusk_thread_id(), ordering: .relaxed)
        ctusk_mark_loop_thread()
        threadID.store(ctusk_thread_id(), ordering: .releasing)
        var events = [ctusk_event](repeating: ctusk_event(), count: 64)
        while !stopped.load(ordering: .relaxed) {
            let hasWork = !ls.localJobs.isEmpty || pending.withLock { p -> Bool in
                if p.jobs.isEmpty && p.closures.isEmpty {
                    p.sleeping = true
                    return false
                }
                return true
            }
            var timeout = hasWork ? 0 : timeoutUntilFirstTimer()
            var n: Int32 = 0
            if timeout != 0 {
                if ls.replyAwaited && pollNanoseconds > 0 {
                    n = pollBeforeParking(&events)
                    // The poll took time: wait no longer than until the first timer's deadline.
                    if n == 0 && timeout > 0 { timeout = timeoutUntilFirstTimer() }
                }
                ls.replyAwaited = false
            }
            if n == 0 {
                // A park while replies are awaited is what polling competes with: sample its cost now and then.
                let before = timeout != 0 && pollNanoseconds > 0 && ls.requestsInFlight > 0 ? parkSampleStart() : nil
                n = timeout != 0 && Self.borrowing
                    ? parkBorrowable(&events, timeout: timeout)
                    : events.withUnsafeMutableBufferPointer { ctusk_epoll_wait(epfd, $0.baseAddress, 64, timeout) }
                if let before { parkSampleEnd(before) }
            }
            if timeout != 0 { pending.withLock { $0.sleeping = false } }
            if n > 0 {
                for i in 0..<Int(n) {
                    let e = events[i]
                    if e.data == Self.wakeToken {
                        _ = ctusk_eventfd_drain(wakeFD)
                        continue
                    }
                    let fd = Int32(truncatingIfNeeded: e.data)
                    guard let h = ls.handlers[fd] else { continue }
                    if e.events & (CTUSK_EPOLLOUT) != 0 { h.eventLoopWritable() }
                    if e.events & (CTUSK_EPOLLIN | CTUSK_EPOLLHUP | CTUSK_EPOLLERR | CTUSK_EPOLLRDHUP) != 0,
                       ls.handlers[fd] != nil {
                        h.eventLoopReadable()
                    }
                }
            }
            runPending()
            runTimers()
            flushAll()
        }
    }

    /// Parks in `epoll_wait` with the loop open to borrowers (`borrowIfParked`), then takes it back: when a
    /// caller is running the loop's work, asks for it (no new borrow starts, and the borrower's poll stops)
    /// and waits until it is given back.
    private func parkBorrowable(_ events: inout [ctusk_event], timeout: Int32) -> Int32 {
        ownership.store(1, ordering: .releasing)
        let n = events.withUnsafeMutableBufferPointer { ctusk_epoll_wait(epfd, $0.baseAddress, 64, timeout) }
        guard !ownership.compareExchange(expected: 1, desired: 0, ordering: .acquiring).exchanged else { return n }
        wanted.store(true, ordering: .relaxed)
        var spins = 0
        while !ownership.compareExchange(expected: 1, desired: 0, ordering: .acquiring).exchanged {
            // A borrow is short (a send and a poll of at most the budget, which stops when this thread wants
            // the loop); a borrower that was preempted gets naps, not a spinning core.
            spins += 1
            if spins < 64 {
                sched_yield()
            } else {
                var nap = timespec(tv_sec: 0, tv_nsec: 20_000)
                nanosleep(&nap, nil)
            }
        }
        wanted.store(false, ordering: .relaxed)
        return n
    }

    /// `epoll_wait`'s timeout until the first timer's deadline, in milliseconds (-1: no timer; 0: one is due).
    private func timeoutUntilFirstTimer() -> Int32 {
        guard let first = timers.first else { return -1 }
        let now = PGClock.nowNanoseconds()
        return first.deadline <= now ? 0 : Int32(min(Int64((first.deadline - now) / 1_000_000) + 1, 60_000))
    }

    private func runPending() {
        // Run until the queues are empty, so work enqueued by jobs runs in the same iteration.
        let serial = asUnownedSerialExecutor()
        let task = asUnownedTaskExecutor()
        var rounds = 0
        while rounds < 16 {
            rounds += 1
            swap(&ls.runningJobs, &ls.localJobs)
            if foreignWork.load(ordering: .acquiring) {
                takeForeignWork()
            }
            if ls.runningJobs.isEmpty && ls.runningClosures.isEmpty { return }
            if !ls.runningClosures.isEmpty {
                for c in ls.runningClosures { c() }
                ls.runningClosures.removeAll(keepingCapacity: true)
            }
            var i = 0
            while i < ls.runningJobs.count {
                let entry = ls.runningJobs[i]
                i += 1
                ls.jobsLeftInBatch = ls.runningJobs.count - i
                if entry.isolated {
                    entry.job.runSynchronously(isolatedTo: serial, taskExecutor: task)
                } else {
                    entry.job.runSynchronously(on: task)
                }
            }
            ls.jobsLeftInBatch = 0
            ls.runningJobs.removeAll(keepingCapacity: true)
            flushAll()
        }
    }

    /// Moves work other threads queued into this turn's batch.
    private func takeForeignWork() {
        pending.withLock { p in
            foreignWork.store(false, ordering: .relaxed)
            if ls.runningJobs.isEmpty {
                swap(&ls.runningJobs, &p.jobs)
            } else if !p.jobs.isEmpty {
                ls.runningJobs.append(contentsOf: p.jobs)
                p.jobs.removeAll(keepingCapacity: true)
            }
            if !p.closures.isEmpty { swap(&ls.runningClosures, &p.closures) }
        }
    }

    private func runTimers() {
        guard !timers.isEmpty else { return }
        let now = PGClock.nowNanoseconds()
        while let first = timers.first, first.deadline <= now {
            timers.removeFirst()
            first.body()
        }
    }

    func flushAll() {
        guard !ls.flushList.isEmpty else { return }
        swap(&ls.flushing, &ls.flushList)
        if !ls.flushSet.isEmpty { ls.flushSet.removeAll(keepingCapacity: true) }
        for h in ls.flushing { h.eventLoopFlush() }
        ls.flushing.removeAll(keepingCapacity: true)
    }
}
