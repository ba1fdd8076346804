import Foundation
import Logging
import CoreMetrics
import Metrics
import PGClient
import PGStoreSupport
import Synchronization

/// One named limit shared by every process that uses the same store and name (rate-sync's `[limiters.<name>]`).
///
/// Each decision is one SQL statement on the database's clock (`tusk_now()`): GCRA or a window counter is
/// updated by `INSERT … ON CONFLICT DO UPDATE … WHERE <admissible> RETURNING`, so two processes can never both
/// take the last token, and a denied request writes nothing and learns from the database how long to wait.
/// Concurrency slots (`max_concurrent`) are leases: a holder's id, a fencing token and an expiry on the
/// database's clock, renewed while held, so a process killed while holding one gives it back when the lease
/// runs out. A waiting task sleeps until the retry-after the database computed, or until a NOTIFY says a slot
/// was freed; in each process only one waiting task per key asks the database at a time.
///
/// ```swift
/// let api = try store.limiter("api", .perSecond(100, maxConcurrent: 50))
/// try await api.withPermit { try await client.get(url) }            // rate-sync: async with acquire("api")
/// let permit = try await api.acquire(key: userID, cost: 3, timeout: .seconds(5))
/// try await permit.release()
/// ```
public final class PGRateLimiter: Sendable {
    /// What the limiter does beyond counting.
    public struct Options: Sendable, Hashable {
        /// How long `acquire` waits by default (rate-sync's `timeout`, default 30 s). `acquire(timeout:)` overrides it.
        public var timeout: Duration
        /// The longest a single database round trip may take before the acquire treats the database as unreachable.
        public var statementTimeout: Duration
        /// What an acquire does when the database cannot be reached: throw (`.failClosed`, the default) or admit
        /// without a limit (`.failOpen`, rate-sync's default). Either way it logs and counts it.
        public var onDatabaseFailure: FailureMode
        /// Decide and record, but never make anyone wait: a request the limit would deny is admitted and
        /// counted as `shadow_denied`. For trying a limit out in production.
        public var shadow: Bool
        /// How long a concurrency slot is held without renewal; a holder renews it every third of this.
        public var lease: Duration
        /// Per-key state unused for this long is deleted (keys come and go: user ids, API keys).
        public var idleKeyExpiry: Duration

        public init(timeout: Duration = .seconds(30), statementTimeout: Duration = .seconds(5),
                    onDatabaseFailure: FailureMode = .failClosed, shadow: Bool = false,
                    lease: Duration = .seconds(30), idleKeyExpiry: Duration = .seconds(3_600)) {
            self.timeout = timeout
            self.statementTimeout = statementTimeout
            self.onDatabaseFailure = onDatabaseFailure
            self.shadow = shadow
            self.lease = lease
            self.idleKeyExpiry = idleKeyExpiry
        }
    }

    /// What an acquire does when the database cannot be reached.
    public enum FailureMode: String, Sendable, Hashable {
        /// Throw `PGStoreError` `.unavailable` or `.timeout`.
        case failClosed = "fail_closed"
        /// Admit without a limit (the permit says `failedOpen`).
        case failOpen = "fail_open"
    }

    /// The limiter's name (rate-sync's `group_id`).
    public let name: String
    /// Its limit.
    public let limit: PGRateLimit
    /// Its options.
    public let options: Options
    let store: PGRateLimiterStore
    let metrics: Instruments
    let batcher = PGRateBatcher()
    private let housekeeping = Mutex(Housekeeping())

    private struct Housekeeping {
        var ensuredSlots: Set<String> = []
        var nextCleanup: ContinuousClock.Instant = .now + .seconds(60)
        var cleaning = false
    }

    struct Instruments: Sendable {
        let acquired: Counter
        let denied: Counter
        let nearLimit: Counter
        let failOpen: Counter
        let shadowDenied: Counter
        let timeouts: Counter
        let fenced: Counter
        let wait: CoreMetrics.Timer

        init(_ o: PGStoreObservability, limiter: String) {
            let d = [("limiter", limiter)]
            acquired = Counter(label: o.metricName("acquired_total"), dimensions: d)
            denied = Counter(label: o.metricName("denied_total"), dimensions: d)
            nearLimit = Counter(label: o.metricName("near_limit_total"), dimensions: d)
            failOpen = Counter(label: o.metricName("fail_open_total"), dimensions: d)
            shadowDenied = Counter(label: o.metricName("shadow_denied_total"), dimensions: d)
            timeouts = Counter(label: o.metricName("timeouts_total"), dimensions: d)
            fenced = Counter(label: o.metricName("fenced_total"), dimensions: d)
            wait = CoreMetrics.Timer(label: o.metricName("wait_seconds"), dimensions: d)
        }
    }

    init(name: String, limit: PGRateLimit, options: Options, store: PGRateLimiterStore) {
        self.name = name
        self.limit = limit
        self.options = options
        self.store = store
        self.metrics = Instruments(store.observability, limiter: name)
    }

    var logger: Logger { store.observability.logger }

    // MARK: Deciding

    /// One decision without waiting: admitted (with a permit to release when it holds a slot), or denied with
    /// how long until it could be admitted.
    ///
    /// ```swift
    /// let d = try await limiter.tryAcquire(key: "user-42")
    /// if !d.admitted { response.headers["Retry-After"] = "\(d.retryAfter.components.seconds + 1)" }
    /// ```
    public func tryAcquire(key: String = "", cost: Int = 1) async throws(PGStoreError) -> PGRateLimitDecision {
        try check(key: key, cost: cost)
        let deadline = ContinuousClock.now + options.statementTimeout
        var slot: SlotGrant?
        if let max = limit.maxConcurrent {
            switch try await guarded(deadline, { () async throws(PGStoreError) in try await self.takeSlot(key: key, max: max, deadline: deadline) }) {
            case .value(.granted(let grant)): slot = grant
            case .value(.busy(let retry)):
                metrics.denied.increment()
                if options.shadow { metrics.shadowDenied.increment(); return .admitted(permit(key, cost, nil, remaining: 0, shadow: true)) }
                return .denied(retryAfter: retry)
            case .failedOpen: return .admitted(permit(key, cost, nil, remaining: -1, failedOpen: true))
            }
        }
        guard limit.algorithm != .none else {
            metrics.acquired.increment()
            return .admitted(permit(key, cost, slot, remaining: -1))
        }
        let answer: Guarded<RateAnswer>
        do {
            answer = try await guarded(deadline, { () async throws(PGStoreError) in try await self.decide(key: key, cost: cost, deadline: deadline) })
        } catch {
            if let slot { await releaseQuietly(key, slot) }
            throw error
        }
        switch answer {
        case .failedOpen:
            return .admitted(permit(key, cost, slot, remaining: -1, failedOpen: true))
        case .value(let rate) where rate.admitted:
            noteAdmission(remaining: rate.remaining)
            return .admitted(permit(key, cost, slot, remaining: rate.remaining, at: rate.at))
        case .value(let rate):
            metrics.denied.increment()
            if options.shadow {
                metrics.shadowDenied.increment()
                return .admitted(permit(key, cost, slot, remaining: 0, shadow: true))
            }
            if let slot { await releaseQuietly(key, slot) }
            return .denied(retryAfter: rate.retryAfter)
        }
    }

    /// Waits until admitted, or throws `PGStoreError` `.timeout` when `timeout` (default ``Options/timeout``)
    /// passes first. With `max_concurrent`, the permit holds a slot until ``PGRateLimitPermit/release()``.
    ///
    /// ```swift
    /// let permit = try await limiter.acquire(key: apiKey, cost: 2, timeout: .seconds(5))
    /// defer { Task { try? await permit.release() } }
    /// ```
    public func acquire(key: String = "", cost: Int = 1, timeout: Duration? = nil) async throws(PGStoreError) -> PGRateLimitPermit {
        try check(key: key, cost: cost)
        let started = ContinuousClock.now
        let deadline = started + (timeout ?? options.timeout)
        do {
            let permit = try await store.observability.span("acquire") { () async throws(PGStoreError) in
                try await self.acquireWaiting(key: key, cost: cost, deadline: deadline)
            }
            metrics.wait.recordNanoseconds(Int64(Self.nanoseconds(ContinuousClock.now - started)))
            return permit
        } catch {
            if error.code == .timeout { metrics.timeouts.increment() }
            throw error
        }
    }

    /// Runs `body` with a permit and releases its slot on every exit path (rate-sync's `async with acquire(…)`).
    ///
    /// ```swift
    /// let page = try await limiter.withPermit(key: tenant) { try await fetchPage() }
    /// ```
    public func withPermit<T>(key: String = "", cost: Int = 1, timeout: Duration? = nil,
                              _ body: () async throws -> T) async throws -> T {
        let permit = try await acquire(key: key, cost: cost, timeout: timeout)
        do {
            let result = try await body()
            await permit.releaseLogging()
            return result
        } catch {
            await permit.releaseLogging()
            throw error
        }
    }

    // MARK: Waiting

    private func acquireWaiting(key: String, cost: Int, deadline: ContinuousClock.Instant) async throws(PGStoreError) -> PGRateLimitPermit {
        var slot: SlotGrant?
        if let max = limit.maxConcurrent {
            switch try await waitForSlot(key: key, max: max, deadline: deadline) {
            case .value(let grant): slot = grant
            case .failedOpen: return permit(key, cost, nil, remaining: -1, failedOpen: true)
            }
        }
        guard limit.algorithm != .none else {
            metrics.acquired.increment()
            return permit(key, cost, slot, remaining: -1)
        }
        do {
            switch try await waitForRate(key: key, cost: cost, deadline: deadline) {
            case .value(let a): return permit(key, cost, slot, remaining: a.remaining, at: a.at, shadow: a.shadow)
            case .failedOpen: return permit(key, cost, slot, remaining: -1, failedOpen: true)
            }
        } catch {
            if let slot { await releaseQuietly(key, slot) }
            throw error
        }
    }

    /// Rate: ask; when denied, sleep until the database's retry-after (one waiting task per key and process
    /// asks at a time) and ask again.
    private func waitForRate(key: String, cost: Int, deadline: ContinuousClock.Instant) async throws(PGStoreError) -> Guarded<RateAnswer> {
        func attempt() async throws(PGStoreError) -> Guarded<RateAnswer> {
            try await guarded(deadline, { () async throws(PGStoreError) in try await self.decide(key: key, cost: cost, deadline: deadline) })
        }
        // Uncontended: one statement.
        switch try await attempt() {
        case .failedOpen: return .failedOpen
        case .value(let a) where a.admitted:
            noteAdmission(remaining: a.remaining)
            return .value(a)
        case .value(let a):
            metrics.denied.increment()
            if options.shadow {
                metrics.shadowDenied.increment()
                return .value(RateAnswer(admitted: true, remaining: 0, retryAfter: .zero, at: nil, shadow: true))
            }
            return try await waitInTurn("r\u{1}" + key, deadline: deadline, first: a.retryAfter) {
                () async throws(PGStoreError) -> (Guarded<RateAnswer>?, Duration) in
                switch try await attempt() {
                case .failedOpen: return (.failedOpen, .zero)
                case .value(let a) where a.admitted:
                    self.noteAdmission(remaining: a.remaining)
                    return (.value(a), .zero)
                case .value(let a):
                    self.metrics.denied.increment()
                    return (nil, a.retryAfter)
                }
            }
        }
    }

    /// Slots: take a free one; when none is free, wait for a NOTIFY from a releasing process or for the time
    /// the first held lease would expire, then try again.
    private func waitForSlot(key: String, max: Int, deadline: ContinuousClock.Instant) async throws(PGStoreError) -> Guarded<SlotGrant> {
        func attempt() async throws(PGStoreError) -> Guarded<SlotAnswer> {
            try await guarded(deadline, { () async throws(PGStoreError) in try await self.takeSlot(key: key, max: max, deadline: deadline) })
        }
        switch try await attempt() {
        case .failedOpen: return .failedOpen
        case .value(.granted(let grant)): return .value(grant)
        case .value(.busy(let retry)):
            metrics.denied.increment()
            if options.shadow {
                metrics.shadowDenied.increment()
                return .value(SlotGrant(slot: -1, token: 0))
            }
            return try await waitInTurn("s\u{1}" + key, deadline: deadline, first: retry, wakeKey: Self.wakeKey(name, key)) {
                () async throws(PGStoreError) -> (Guarded<SlotGrant>?, Duration) in
                switch try await attempt() {
                case .failedOpen: return (.failedOpen, .zero)
                case .value(.granted(let g)): return (.value(g), .zero)
                case .value(.busy(let retry)):
                    self.metrics.denied.increment()
                    return (nil, retry)
                }
            }
        }
    }

    /// Waits for this process's turn on `turnKey`, then alternates sleeping (or waiting for a wake-up) and
    /// `step` until `step` returns a value or the deadline passes.
    private func waitInTurn<T: Sendable>(_ turnKey: String, deadline: ContinuousClock.Instant, first: Duration, wakeKey: String? = nil,
                                         _ step: () async throws(PGStoreError) -> (T?, Duration)) async throws(PGStoreError) -> T {
        let wakeups = store.wakeups
        let fullKey = name + "\u{1}" + turnKey
        guard await wakeups.takeTurn(fullKey) else {
            throw PGStoreError(code: .cancelled, message: "acquiring \(name) was cancelled", store: "ratelimit")
        }
        var pause = first
        do throws(PGStoreError) {
            while true {
                let now = ContinuousClock.now
                guard now + pause < deadline || (now < deadline && wakeKey != nil) else {
                    throw PGStoreError(code: .timeout, message: "limiter \(name): not admitted within the timeout "
                                       + "(next chance in \(Self.format(pause)))", store: "ratelimit", isSafeToRetry: true)
                }
                let sleep = min(pause, now.duration(to: deadline))
                if let wakeKey {
                    await wakeups.wait(for: wakeKey, upTo: sleep)
                } else {
                    try? await Task.sleep(for: sleep)
                }
                if Task.isCancelled {
                    throw PGStoreError(code: .cancelled, message: "acquiring \(name) was cancelled", store: "ratelimit")
                }
                guard ContinuousClock.now < deadline else {
                    throw PGStoreError(code: .timeout, message: "limiter \(name): not admitted within the timeout",
                                       store: "ratelimit", isSafeToRetry: true)
                }
                let (value, next) = try await step()
                if let value {
                    await wakeups.giveTurn(fullKey)
                    return value
                }
                pause = next
            }
        } catch {
            await wakeups.giveTurn(fullKey)
            throw error
        }
    }

    // MARK: Statements

    struct RateAnswer: Sendable {
        var admitted: Bool
        var remaining: Int
        var retryAfter: Duration
        /// The database's time of the decision (admitted only).
        var at: Date?
        /// Denied, but admitted in shadow mode.
        var shadow = false
    }

    struct SlotGrant: Sendable {
        var slot: Int
        var token: Int64
    }

    enum SlotAnswer: Sendable {
        case granted(SlotGrant)
        case busy(retryAfter: Duration)
    }

    enum Guarded<T: Sendable>: Sendable {
        case value(T)
        case failedOpen
    }

    /// The rate decision: one statement. Requests for the same key in this process that arrive while a
    /// statement for it is in flight wait, and the next statement decides all of them at once (their total
    /// cost, at least the first one's): under load, one statement admits many requests.
    func decide(key: String, cost: Int, deadline: ContinuousClock.Instant) async throws(PGStoreError) -> RateAnswer {
        guard limit.algorithm != .none else { return RateAnswer(admitted: true, remaining: -1, retryAfter: .zero, at: nil) }
        switch await batcher.turn(key: key, cost: cost) {
        case .decided(let result): return try result.get()
        case .lead(let batch):
            let answers: [RateAnswer]
            do {
                answers = try await decideBatch(key: key, batch, deadline: deadline)
            } catch {
                for w in batch.dropFirst() { w.continuation?.resume(returning: .decided(.failure(error))) }
                batcher.next(key: key)
                throw error
            }
            for (w, answer) in zip(batch, answers).dropFirst() { w.continuation?.resume(returning: .decided(.success(answer))) }
            batcher.next(key: key)
            return answers[0]
        }
    }

    /// One statement for a batch of requests (the first is the caller's); answers in the batch's order.
    private func decideBatch(key: String, _ batch: [PGRateBatcher.Waiter], deadline: ContinuousClock.Instant) async throws(PGStoreError) -> [RateAnswer] {
        let sql: String
        let a: Int64, b: Int64
        switch limit.algorithm {
        case .gcra: (sql, a, b) = (store.statements.gcra, limit.intervalMicros, Int64(limit.burst))
        case .fixedWindow: (sql, a, b) = (store.statements.fixedWindow, limit.windowMicros, Int64(limit.limit))
        case .slidingWindow: (sql, a, b) = (store.statements.slidingWindow, limit.windowMicros, Int64(limit.limit))
        case .none: return batch.map { _ in RateAnswer(admitted: true, remaining: -1, retryAfter: .zero, at: nil) }
        }
        let total = Int64(batch.reduce(0) { $0 + $1.cost })
        let first = Int64(batch[0].cost)
        let (name, timeout) = (self.name, options.statementTimeout)
        let sent = ContinuousClock.now
        let row = try await store.run("limiter \(name)", deadline: min(deadline, .now + timeout)) { pool in
            try await pool.queryOptional(PGQuery(unsafeSQL: sql, [name, key, a, b, total, first]),
                                         as: (Bool, Int64, Int64, Int64, Date?).self)
        }
        scheduleCleanupIfDue(key: key)
        // No row: the state row appeared after this statement's snapshot and the decision denied; ask again soon.
        guard let (admitted, granted, remaining, retryMicros, at) = row else {
            return batch.map { _ in RateAnswer(admitted: false, remaining: 0, retryAfter: .microseconds(max(1, a)), at: nil) }
        }
        guard admitted else {
            // The retry-after is counted from when the database decided; the reply took about half the round trip
            // to come back and the next request will take about as long to arrive: start it that much earlier.
            let early = ContinuousClock.now - sent
            let retry = Duration.microseconds(max(1, retryMicros))
            let answer = RateAnswer(admitted: false, remaining: 0, retryAfter: retry > early ? retry - early : .microseconds(1), at: nil)
            return batch.map { _ in answer }
        }
        // Hand the granted units out in order; whoever they do not cover asks again at once (and then learns
        // its exact retry-after from the database).
        var left = Int(granted)
        return batch.map { w in
            guard w.cost <= left else { return RateAnswer(admitted: false, remaining: 0, retryAfter: .microseconds(1), at: nil) }
            left -= w.cost
            return RateAnswer(admitted: true, remaining: Int(remaining) + left, retryAfter: .zero, at: at)
        }
    }

    /// A concurrency slot: one statement (plus, the first time for a key, one creating the slot rows).
    func takeSlot(key: String, max: Int, deadline: ContinuousClock.Instant) async throws(PGStoreError) -> SlotAnswer {
        let (name, s, lease) = (self.name, store.statements, options.lease.microseconds)
        let holder = store.holderPrefix
        let stop = min(deadline, .now + options.statementTimeout)
        for _ in 0..<2 {
            let ensured = housekeeping.withLock { $0.ensuredSlots.contains(key) }
            if !ensured {
                _ = try await store.run("limiter \(name)", deadline: stop) { pool in
                    try await pool.execute(PGQuery(unsafeSQL: s.ensureSlots, [name, key, Int32(max)]))
                }
                housekeeping.withLock {
                    if $0.ensuredSlots.count > 100_000 { $0.ensuredSlots.removeAll() }
                    $0.ensuredSlots.insert(key)
                }
            }
            let row = try await store.run("limiter \(name)", deadline: stop) { pool in
                try await pool.queryOptional(PGQuery(unsafeSQL: s.takeSlot, [name, key, Int32(max), holder, lease]),
                                             as: (Bool, Int32, Int64, Int64, Int64).self)
            }
            guard let (taken, slot, token, retryMicros, existing) = row else {
                return .busy(retryAfter: .milliseconds(10))
            }
            if taken { return .granted(SlotGrant(slot: Int(slot), token: token)) }
            if existing < Int64(max) {
                // The slot rows are missing (cleaned up, or max_concurrent grew): create them and try again.
                _ = housekeeping.withLock { $0.ensuredSlots.remove(key) }
                continue
            }
            return .busy(retryAfter: .microseconds(retryMicros))
        }
        return .busy(retryAfter: .milliseconds(10))
    }

    /// Frees a slot (only if this holder still has it); false when it was taken over meanwhile.
    func releaseSlot(key: String, _ grant: SlotGrant) async throws(PGStoreError) -> Bool {
        let (name, s) = (self.name, store.statements)
        let n = try await store.run("limiter \(name)", deadline: .now + options.statementTimeout) { pool in
            try await pool.queryOne(PGQuery(unsafeSQL: s.releaseSlot, [name, key, Int32(grant.slot), grant.token, s.channel, Self.wakeKey(name, key)]),
                                    as: Int64.self)
        }
        return n == 1
    }

    /// Extends a slot's lease; false when it was taken over (fenced).
    func renewSlot(key: String, _ grant: SlotGrant) async throws(PGStoreError) -> Bool {
        let (name, s, lease) = (self.name, store.statements, options.lease.microseconds)
        let row = try await store.run("limiter \(name)", deadline: .now + options.statementTimeout) { pool in
            try await pool.queryOptional(PGQuery(unsafeSQL: s.renewSlot, [name, key, Int32(grant.slot), grant.token, lease]), as: Int32.self)
        }
        return row != nil
    }

    private func releaseQuietly(_ key: String, _ grant: SlotGrant) async {
        guard grant.slot >= 0 else { return }
        do {
            _ = try await releaseSlot(key: key, grant)
        } catch {
            logger.warning("could not free a concurrency slot; it frees itself when its lease ends",
                           metadata: ["limiter": "\(name)", "error": "\(error)"])
        }
    }

    // MARK: Helpers

    /// Runs a database step; on a failure to reach the database, fails open (admits) or rethrows as configured.
    private func guarded<T: Sendable>(_ deadline: ContinuousClock.Instant,
                                      _ body: () async throws(PGStoreError) -> T) async throws(PGStoreError) -> Guarded<T> {
        do {
            return .value(try await body())
        } catch where error.code == .unavailable || error.code == .timeout {
            if options.onDatabaseFailure == .failOpen {
                metrics.failOpen.increment()
                logger.warning("the database is unreachable: admitting without a limit (fail_open)",
                               metadata: ["limiter": "\(name)", "error": "\(error)"])
                return .failedOpen
            }
            logger.warning("the database is unreachable: denying (fail_closed)", metadata: ["limiter": "\(name)", "error": "\(error)"])
            throw error
        }
    }

    private func permit(_ key: String, _ cost: Int, _ slot: SlotGrant?, remaining: Int, at: Date? = nil,
                        failedOpen: Bool = false, shadow: Bool = false) -> PGRateLimitPermit {
        let grant = (slot?.slot ?? -1) >= 0 ? slot : nil
        return PGRateLimitPermit(limiter: self, key: key, cost: cost, grant: grant, remaining: remaining, admittedAt: at,
                                 failedOpen: failedOpen, shadow: shadow)
    }

    private func noteAdmission(remaining: Int) {
        metrics.acquired.increment()
        let capacity = limit.algorithm == .gcra ? limit.burst : limit.limit
        if capacity > 0, remaining * 5 <= capacity { metrics.nearLimit.increment() }
    }

    private func check(key: String, cost: Int) throws(PGStoreError) {
        let capacity = limit.algorithm == .gcra ? limit.burst : limit.limit
        guard cost >= 1, limit.algorithm == .none || cost <= capacity else {
            throw PGStoreError(code: .invalidConfiguration,
                               message: "limiter \(name): cost \(cost) can never be admitted (it must be from 1 to \(capacity), the burst or limit)",
                               store: "ratelimit")
        }
        guard key.utf8.count <= 1_024, !key.contains("\0") else {
            throw PGStoreError(code: .invalidConfiguration, message: "limiter \(name): a key must be at most 1,024 bytes, without NUL",
                               store: "ratelimit")
        }
    }

    /// Deletes idle per-key rows now and then (at most every minute per limiter and process, in the background).
    private func scheduleCleanupIfDue(key: String) {
        guard !key.isEmpty else { return }
        let due = housekeeping.withLock { h -> Bool in
            guard !h.cleaning, ContinuousClock.now >= h.nextCleanup else { return false }
            h.cleaning = true
            h.nextCleanup = .now + .seconds(60)
            return true
        }
        guard due else { return }
        let (name, sql, idle) = (self.name, store.statements.cleanup, options.idleKeyExpiry.microseconds)
        Task {
            defer { self.housekeeping.withLock { $0.cleaning = false } }
            do {
                _ = try await self.store.run("cleanup of \(name)", deadline: .now + .seconds(30)) { pool in
                    try await pool.execute(PGQuery(unsafeSQL: sql, [name, idle, Int64(1_000)]))
                }
                self.housekeeping.withLock { $0.ensuredSlots.removeAll() }
            } catch {
                self.logger.debug("idle key cleanup failed", metadata: ["limiter": "\(name)", "error": "\(error)"])
            }
        }
    }

    static func wakeKey(_ limiter: String, _ key: String) -> String { limiter + "\n" + key }

    static func nanoseconds(_ d: Duration) -> Int64 {
        d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
    }

    static func format(_ d: Duration) -> String {
        String(format: "%.3f s", Double(nanoseconds(d)) / 1e9)
    }
}

/// The answer of ``PGRateLimiter/tryAcquire(key:cost:)``.
public enum PGRateLimitDecision: Sendable {
    /// Admitted: release the permit when done (it holds a slot when the limiter has `max_concurrent`).
    case admitted(PGRateLimitPermit)
    /// Denied: the database says when it could be admitted.
    case denied(retryAfter: Duration)

    /// True when admitted.
    public var admitted: Bool {
        if case .admitted = self { return true }
        return false
    }

    /// How long until a retry could be admitted (zero when admitted).
    public var retryAfter: Duration {
        if case .denied(let d) = self { return d }
        return .zero
    }
}
