import Foundation
import CoreMetrics
import Logging
import Metrics
import PGClient
import PGStoreSupport
import Synchronization

/// One circuit breaker, shared by every process that uses the same store and `resource_key`
/// (resilient-circuit's `CircuitProtectorPolicy`).
///
/// The closed path costs no statement: whether a call may go ahead is read from this process's state,
/// which NOTIFY keeps current (a periodic refresh is the safety net). Outcomes are counted here and flushed
/// as deltas, one statement per breaker per flush interval; the database decides to open, on its own clock,
/// over the whole cluster's window, and tells every instance. After the cooldown exactly
/// `successLimit.denominator` probes are admitted across all instances.
///
/// ```swift
/// let payments = try store.breaker("payment_service",
///                                  policy: PGBreakerPolicy(cooldown: .seconds(60), failureLimit: .init(5, 10)))
/// let receipt = try await payments.run { try await processPayment() }   // the seed's @circuit_breaker
/// ```
public final class PGBreaker: Sendable {
    /// The `resource_key`.
    public let resourceKey: String
    /// The policy.
    public let policy: PGBreakerPolicy
    let store: PGBreakerStore
    let core = Mutex(PGBreakerCore())
    let metrics: Metrics

    struct Metrics: Sendable {
        let rejected: Counter
        let transitions: Counter
        let calls: Counter
        let failures: Counter
        init(key: String, _ o: PGStoreObservability) {
            let d = [("breaker", key)]
            rejected = Counter(label: o.metricName("rejected_total"), dimensions: d)
            transitions = Counter(label: o.metricName("transitions_total"), dimensions: d)
            calls = Counter(label: o.metricName("calls_total"), dimensions: d)
            failures = Counter(label: o.metricName("failures_total"), dimensions: d)
        }
    }

    init(resourceKey: String, policy: PGBreakerPolicy, store: PGBreakerStore) {
        self.resourceKey = resourceKey
        self.policy = policy
        self.store = store
        self.metrics = Metrics(key: resourceKey, store.observability)
    }

    /// The state this process sees now (no statement).
    ///
    /// ```swift
    /// if payments.state != .closed { showBanner() }
    /// ```
    public var state: PGBreakerState { core.withLock { $0.state } }

    /// The database generation this process last saw.
    public var generation: Int64 { core.withLock { $0.generation } }

    /// Where this breaker's state is kept right now (the store's status).
    public var storageStatus: PGBreakerStorageStatus { store.storageStatus }

    /// Runs `body` if the breaker lets the call through, and counts its outcome (the seed's decorator).
    ///
    /// ```swift
    /// let user = try await users.run { try await api.fetchUser(id) }
    /// ```
    /// - Throws: ``PGBreakerOpenError`` when refused; otherwise whatever `body` throws.
    public func run<T>(_ body: () async throws -> T) async throws -> T {
        let permit = try await acquire()
        let started = ContinuousClock.now
        do {
            let value = try await body()
            await record(permit, outcome: .success, duration: ContinuousClock.now - started)
            return value
        } catch {
            await record(permit, outcome: policy.classifier.classify(error), duration: ContinuousClock.now - started)
            throw error
        }
    }

    /// Whether a call may go ahead, and as what.
    enum Permit: Sendable {
        case normal(epoch: Int64)
        case probe(epoch: Int64, generation: Int64?)
        case untracked
    }

    private enum Decision {
        case permit(Permit)
        case reject(PGBreakerState, Duration?)
        case askDatabase
    }

    /// Takes a permit: no statement unless the breaker is (or has just become) half-open.
    func acquire() async throws -> Permit {
        let local = store.decidesLocally
        let now = ContinuousClock.now
        let decision = core.withLock { c -> Decision in
            switch c.state {
            case .closed: return .permit(.normal(epoch: c.epoch))
            case .disabled: return .permit(.untracked)
            case .forcedOpen: return .reject(.forcedOpen, nil)
            case .open, .halfOpen:
                if c.state == .open, let until = c.openUntil, now < until { return .reject(.open, until - now) }
                if !local, c.state == .halfOpen, let taken = c.probesTakenUntil, now < taken { return .reject(.halfOpen, nil) }
                guard local else { return .askDatabase }
                if c.state == .open { c.halfOpenLocally(policy) }
                if c.localProbesLeft > 0 {
                    c.localProbesLeft -= 1
                    return .permit(.probe(epoch: c.epoch, generation: nil))
                }
                return .reject(.halfOpen, nil)
            }
        }
        switch decision {
        case .permit(let p):
            return p
        case .reject(let state, let after):
            metrics.rejected.increment()
            throw PGBreakerOpenError(resourceKey: resourceKey, state: state, retryAfter: after)
        case .askDatabase:
            do {
                let (granted, state, generation, remaining) = try await store.probe(self)
                let now = ContinuousClock.now
                let permit = core.withLock { c -> Permit? in
                    let old = c.apply(state, generation: generation, remaining: remaining, now: now)
                    if let old { store.logTransition(self, from: old, to: state, why: "seen in the database") }
                    if granted { return .probe(epoch: c.epoch, generation: generation) }
                    if c.state == .halfOpen { c.probesTakenUntil = now + store.configuration.flushInterval }
                    switch c.state {
                    case .closed: return .normal(epoch: c.epoch)
                    case .disabled: return .untracked
                    default: return nil
                    }
                }
                if let permit { return permit }
                metrics.rejected.increment()
                throw PGBreakerOpenError(resourceKey: resourceKey, state: state, retryAfter: state == .open ? remaining : nil)
            } catch let error as PGStoreError {
                store.enterFallback(error)
                return try await acquireLocally()
            }
        }
    }

    /// The local half-open path (the database just failed).
    private func acquireLocally() async throws -> Permit {
        let now = ContinuousClock.now
        let decision = core.withLock { c -> Decision in
            if c.state == .closed { return .permit(.normal(epoch: c.epoch)) }
            if c.state == .disabled { return .permit(.untracked) }
            if c.state == .forcedOpen { return .reject(.forcedOpen, nil) }
            if c.state == .open, let until = c.openUntil, now < until { return .reject(.open, until - now) }
            if c.state == .open { c.halfOpenLocally(policy) }
            if c.localProbesLeft > 0 {
                c.localProbesLeft -= 1
                return .permit(.probe(epoch: c.epoch, generation: nil))
            }
            return .reject(.halfOpen, nil)
        }
        switch decision {
        case .permit(let p): return p
        case .reject(let s, let after):
            metrics.rejected.increment()
            throw PGBreakerOpenError(resourceKey: resourceKey, state: s, retryAfter: after)
        case .askDatabase: throw PGBreakerOpenError(resourceKey: resourceKey, state: .halfOpen, retryAfter: nil)
        }
    }

    /// Counts an outcome: locally (and in the next flush) for a normal call, in the database for a probe.
    func record(_ permit: Permit, outcome: PGBreakerOutcome, duration: Duration) async {
        guard outcome != .ignored else { return }
        let failed = outcome == .failure
        let slow = policy.slowCallDuration.map { duration > $0 } ?? false
        metrics.calls.increment()
        if failed { metrics.failures.increment() }
        switch permit {
        case .untracked:
            return
        case .normal(let epoch):
            let local = store.decidesLocally
            let published = local && store.backend == nil
            let now = ContinuousClock.now
            let tripped = core.withLock { c -> String? in
                guard c.epoch == epoch, c.state == .closed else { return nil }
                c.window.add(failed: failed, slow: slow, at: now, policy: policy)
                guard !local else {
                    guard failed || slow || policy.minimumCalls > 0, let why = c.window.tripReason(policy, at: now) else { return nil }
                    c.openLocally(policy, now: now, published: published)
                    return why
                }
                c.pending.add(failed: failed, slow: slow, keep: policy.windowCalls)
                return nil
            }
            if let why = tripped { store.logTransition(self, from: .closed, to: .open, why: why + " (decided locally)") }
        case .probe(let epoch, let generation):
            if let generation {
                do {
                    let (state, g, remaining) = try await store.probeResult(self, generation: generation, success: !failed)
                    let now = ContinuousClock.now
                    let old = core.withLock { $0.apply(state, generation: g, remaining: remaining, now: now) }
                    if let old { store.logTransition(self, from: old, to: state, why: failed ? "a probe failed" : "probe succeeded") }
                    return
                } catch {
                    store.enterFallback(error)
                }
            }
            recordLocalProbe(epoch: generation == nil ? epoch : nil, failed: failed)
        }
    }

    /// A probe's outcome decided locally (in-memory storage or an outage). `epoch` nil: any current half-open.
    private func recordLocalProbe(epoch: Int64?, failed: Bool) {
        let now = ContinuousClock.now
        let published = store.backend == nil
        let change = core.withLock { c -> (PGBreakerState, String)? in
            guard c.state == .halfOpen, epoch == nil || c.epoch == epoch else { return nil }
            if failed { c.localProbeFailures += 1 } else { c.localProbeSuccesses += 1 }
            let limit = policy.successLimit
            if c.localProbeSuccesses >= limit.numerator {
                c.state = .closed
                c.epoch += 1
                c.openUntil = nil
                c.openedCount = 0
                c.openedLocally = false
                c.window.clear()
                c.pending = PGBreakerPending()
                return (.closed, "\(c.localProbeSuccesses) of \(limit.denominator) probes succeeded (decided locally)")
            }
            if c.localProbeFailures > limit.denominator - limit.numerator {
                c.openLocally(policy, now: now, published: published)
                return (.open, "a probe failed (decided locally)")
            }
            return nil
        }
        if let (to, why) = change { store.logTransition(self, from: .halfOpen, to: to, why: why) }
    }

    /// Applies a state the database reported. Returns true when it changed what this process sees.
    @discardableResult
    func apply(_ state: PGBreakerState, generation: Int64, remaining: Duration, why: String) -> Bool {
        let now = ContinuousClock.now
        let old = core.withLock { $0.apply(state, generation: generation, remaining: remaining, now: now) }
        if let old { store.logTransition(self, from: old, to: state, why: why) }
        return old != nil
    }

    /// Hands this process's counted outcomes to a flush (and forgets them here).
    func takePending() -> (generation: Int64, pending: PGBreakerPending)? {
        core.withLock { c in
            guard c.state == .closed, !c.pending.isEmpty else { return nil }
            let p = c.pending.trimmed(policy.windowCalls)
            c.pending = PGBreakerPending()
            return (c.generation, p)
        }
    }
}
