import Foundation

/// The last outcomes of one breaker in this process: the count window (last N outcomes) or the time window
/// (10 buckets). Used to decide locally with in-memory storage and during a database outage.
struct PGBreakerLocalWindow: Sendable {
    var failed: [Bool] = []
    var slow: [Bool] = []
    var buckets: [(index: Int64, calls: Int, failures: Int, slow: Int)] = []

    static let origin = ContinuousClock.now

    mutating func add(failed f: Bool, slow s: Bool, at now: ContinuousClock.Instant, policy: PGBreakerPolicy) {
        if policy.timeWindow != nil {
            let index = PGBreakerPolicy.milliseconds(now - Self.origin) / policy.bucketMilliseconds
            if let last = buckets.last, last.index == index {
                buckets[buckets.count - 1] = (index, last.calls + 1, last.failures + (f ? 1 : 0), last.slow + (s ? 1 : 0))
            } else {
                buckets.append((index, 1, f ? 1 : 0, s ? 1 : 0))
            }
            buckets.removeAll { $0.index <= index - 10 }
        } else {
            failed.append(f)
            slow.append(s)
            let n = policy.windowCalls
            if failed.count > n { failed.removeFirst(failed.count - n) }
            if slow.count > n { slow.removeFirst(slow.count - n) }
        }
    }

    /// Why the window trips the breaker, or nil: the same rules as the database's flush function.
    func tripReason(_ policy: PGBreakerPolicy, at now: ContinuousClock.Instant) -> String? {
        let calls, failures, slowCalls: Int
        if policy.timeWindow != nil {
            let index = PGBreakerPolicy.milliseconds(now - Self.origin) / policy.bucketMilliseconds
            let live = buckets.filter { $0.index > index - 10 }
            calls = live.reduce(0) { $0 + $1.calls }
            failures = live.reduce(0) { $0 + $1.failures }
            slowCalls = live.reduce(0) { $0 + $1.slow }
            let limit = policy.failureLimit
            if calls >= max(policy.minimumCalls, 1), failures * limit.denominator >= limit.numerator * calls {
                return "\(failures) failures in \(calls) calls (local window, limit \(limit))"
            }
        } else {
            calls = failed.count
            failures = failed.filter { $0 }.count
            slowCalls = slow.filter { $0 }.count
            if calls >= policy.minimumCalls, failures >= policy.failureLimit.numerator {
                return "\(failures) failures in the last \(calls) calls (local window, limit \(policy.failureLimit.numerator) of \(policy.windowCalls))"
            }
        }
        if let limit = policy.slowCallLimit, policy.slowCallDuration != nil, calls >= max(policy.minimumCalls, 1),
           slowCalls * limit.denominator >= limit.numerator * calls {
            return "\(slowCalls) slow calls in \(calls) (local window, limit \(limit))"
        }
        return nil
    }

    mutating func clear() {
        failed.removeAll()
        slow.removeAll()
        buckets.removeAll()
    }
}

/// Outcomes counted since the last flush, for one generation.
struct PGBreakerPending: Sendable {
    var calls = 0
    var failures = 0
    var slow = 0
    var recentFailed: [Bool] = []
    var recentSlow: [Bool] = []

    var isEmpty: Bool { calls == 0 }

    mutating func add(failed f: Bool, slow s: Bool, keep: Int) {
        calls += 1
        if f { failures += 1 }
        if s { slow += 1 }
        if keep > 0 {
            recentFailed.append(f)
            recentSlow.append(s)
            // Only the last `keep` matter to the count window; trim in halves to stay O(1) amortised.
            if recentFailed.count >= 2 * keep {
                recentFailed.removeFirst(recentFailed.count - keep)
                recentSlow.removeFirst(recentSlow.count - keep)
            }
        }
    }

    func trimmed(_ keep: Int) -> PGBreakerPending {
        var p = self
        if keep > 0, p.recentFailed.count > keep {
            p.recentFailed.removeFirst(p.recentFailed.count - keep)
            p.recentSlow.removeFirst(p.recentSlow.count - keep)
        }
        return p
    }
}

/// A breaker's state in this process.
struct PGBreakerCore: Sendable {
    var state: PGBreakerState = .closed
    /// Bumped by every change seen here (shared or local); permits carry it, so late outcomes are dropped.
    var epoch: Int64 = 0
    /// The database's generation last seen.
    var generation: Int64 = 1
    var openUntil: ContinuousClock.Instant?
    var window = PGBreakerLocalWindow()
    var pending = PGBreakerPending()
    var localProbesLeft = 0
    var localProbeSuccesses = 0
    var localProbeFailures = 0
    var openedCount = 0
    /// Opened from local evidence while the database was unreachable: published when it returns.
    var openedLocally = false
    /// Half-open with every permit handed out: until then refuse without asking the database again.
    var probesTakenUntil: ContinuousClock.Instant?

    /// A state from the database (a flush, probe, refresh or NOTIFY). Older generations are ignored.
    /// Returns the previous state when this changed it.
    mutating func apply(_ newState: PGBreakerState, generation g: Int64, remaining: Duration,
                        now: ContinuousClock.Instant) -> PGBreakerState? {
        if g < generation { return nil }
        if g == generation && newState == state {
            if newState == .open { openUntil = now + remaining }
            return nil
        }
        let old = state
        state = newState
        generation = g
        epoch += 1
        probesTakenUntil = nil
        pending = PGBreakerPending()
        openUntil = newState == .open ? now + remaining : nil
        openedLocally = false
        if newState == .closed { window.clear() }
        if newState == .open { openedCount += 1 }
        if newState == .closed { openedCount = 0 }
        return old
    }

    /// Opens from local evidence.
    mutating func openLocally(_ policy: PGBreakerPolicy, now: ContinuousClock.Instant, published: Bool) {
        state = .open
        epoch += 1
        openUntil = now + policy.cooldown(openedBefore: openedCount)
        openedCount += 1
        window.clear()
        pending = PGBreakerPending()
        openedLocally = !published
    }

    mutating func halfOpenLocally(_ policy: PGBreakerPolicy) {
        state = .halfOpen
        epoch += 1
        localProbesLeft = policy.successLimit.denominator
        localProbeSuccesses = 0
        localProbeFailures = 0
    }
}
