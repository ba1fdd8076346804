import Foundation
import Synchronization
import CoreMetrics
import PGClient
import PGStoreSupport

extension PGBreakerStore {
    private func requireBackend() throws(PGStoreError) -> Backend {
        guard let backend else { throw PGStoreError.breaker(.invalidConfiguration, "this store keeps its breakers in memory") }
        return backend
    }

    /// One statement on the writer pool, raced against the statement timeout.
    func statement<T: Sendable>(_ what: String, _ body: @escaping @Sendable (PGPool) async throws -> T) async throws(PGStoreError) -> T {
        let pool = try requireBackend().database.writerPool
        statementsTotal.increment()
        return try await PGStoreDeadline.run(within: configuration.statementTimeout, what: what, store: "breaker") { try await body(pool) }
    }

    func flush(_ b: PGBreaker, generation: Int64, pending p: PGBreakerPending) async throws(PGStoreError) -> (PGBreakerState, Int64, Duration) {
        let s = try requireBackend().statements
        let policy = b.policy
        let slow = policy.slowCallLimit
        let binds: [any PGEncodable] = [
            b.resourceKey, generation, Int32(clamping: p.calls), Int32(clamping: p.failures), Int32(clamping: p.slow),
            p.recentFailed, p.recentSlow,
            Int32(policy.windowCalls), policy.windowMilliseconds, policy.bucketMilliseconds,
            Int32(policy.failureLimit.numerator), Int32(policy.failureLimit.denominator), Int32(policy.minimumCalls),
            Int32(slow?.numerator ?? 0), Int32(policy.slowCallDuration == nil ? 0 : (slow?.denominator ?? 0)),
            policy.cooldownMilliseconds, policy.cooldownGrowth, policy.maximumCooldownMilliseconds,
            Int32(policy.successLimit.denominator), configuration.instanceName, s.channel,
        ]
        let sql = s.flush
        let row = try await statement("flush of \(b.resourceKey)") { pool in
            try await pool.queryOne(PGQuery(unsafeSQL: sql, binds), as: (String, Int64, Int64).self)
        }
        return (try Self.decoded(row.0), row.1, .microseconds(row.2))
    }

    private static func decoded(_ text: String) throws(PGStoreError) -> PGBreakerState {
        guard let s = PGBreakerState(rawValue: text) else {
            throw PGStoreError.breaker(.database, "unknown breaker state \(String(text.prefix(20))) in the table")
        }
        return s
    }

    func refreshRows(_ keys: [String]) async throws(PGStoreError) -> [(String, PGBreakerState, Int64, Duration)] {
        let s = try requireBackend().statements
        let (sql, who, channel) = (s.refresh, configuration.instanceName, s.channel)
        let rows = try await statement("refresh") { pool in
            var out: [(String, String, Int64, Int64)] = []
            for try await row in try await pool.query(PGQuery(unsafeSQL: sql, [keys, who, channel]), timeout: nil) {
                out.append(try row.decode((String, String, Int64, Int64).self))
            }
            return out
        }
        var out: [(String, PGBreakerState, Int64, Duration)] = []
        for r in rows { out.append((r.0, try Self.decoded(r.1), r.2, .microseconds(r.3))) }
        return out
    }

    func probe(_ b: PGBreaker) async throws(PGStoreError) -> (Bool, PGBreakerState, Int64, Duration) {
        let s = try requireBackend().statements
        let binds: [any PGEncodable] = [b.resourceKey, configuration.instanceName, s.channel,
                                        PGBreakerPolicy.milliseconds(b.policy.probeTimeout), Int32(b.policy.successLimit.denominator)]
        let sql = s.probe
        let row = try await statement("half-open permit of \(b.resourceKey)") { pool in
            try await pool.queryOne(PGQuery(unsafeSQL: sql, binds), as: (Bool, String, Int64, Int64).self)
        }
        return (row.0, try Self.decoded(row.1), row.2, .microseconds(row.3))
    }

    func probeResult(_ b: PGBreaker, generation: Int64, success: Bool) async throws(PGStoreError) -> (PGBreakerState, Int64, Duration) {
        let s = try requireBackend().statements
        let p = b.policy
        let binds: [any PGEncodable] = [b.resourceKey, generation, success, Int32(p.successLimit.numerator), p.cooldownMilliseconds,
                                        p.cooldownGrowth, p.maximumCooldownMilliseconds, Int32(p.successLimit.denominator),
                                        configuration.instanceName, s.channel]
        let sql = s.probeResult
        let row = try await statement("probe result of \(b.resourceKey)") { pool in
            try await pool.queryOne(PGQuery(unsafeSQL: sql, binds), as: (String, Int64, Int64).self)
        }
        return (try Self.decoded(row.0), row.1, .microseconds(row.2))
    }

    func admin(_ key: String, target: String, ifGeneration: Int64?, cooldown: Duration, probes: Int,
               who: String, why: String) async throws(PGStoreError) -> (PGBreakerState, Int64, Duration) {
        let s = try requireBackend().statements
        let binds: [any PGEncodable] = [key, target, ifGeneration, PGBreakerPolicy.milliseconds(cooldown), Int32(probes), who, why, s.channel]
        let sql = s.admin
        let row = try await statement("\(target.lowercased()) of \(key)") { pool in
            try await pool.queryOne(PGQuery(unsafeSQL: sql, binds), as: (String, Int64, Int64).self)
        }
        return (try Self.decoded(row.0), row.1, .microseconds(row.2))
    }

    // MARK: - Administration (what `tusk breaker list|open|close|disable|reset` calls)

    /// Every breaker in the table.
    ///
    /// ```swift
    /// for b in try await store.list() { print(b.resourceKey, b.state, b.failureCount) }
    /// ```
    public func list() async throws(PGStoreError) -> [PGBreakerInfo] {
        if backend == nil {
            let breakers = runState.withLock { $0.breakers }
            return breakers.values.map { b in
                let c = b.core.withLock { $0 }
                return PGBreakerInfo(resourceKey: b.resourceKey, state: c.state, generation: c.generation,
                                     failureCount: c.window.failed.filter { $0 }.count, callCount: c.window.failed.count,
                                     openUntil: nil, updatedAt: nil, reason: "")
            }.sorted { $0.resourceKey < $1.resourceKey }
        }
        let sql = try requireBackend().statements.list
        let rows = try await statement("list") { pool in
            var out: [(String, String, Int64, Int32, Int32, Date?, Date?, String)] = []
            for try await row in try await pool.query(PGQuery(unsafeSQL: sql), timeout: nil) {
                out.append(try row.decode((String, String, Int64, Int32, Int32, Date?, Date?, String).self))
            }
            return out
        }
        var out: [PGBreakerInfo] = []
        for r in rows {
            out.append(PGBreakerInfo(resourceKey: r.0, state: try Self.decoded(r.1), generation: r.2, failureCount: Int(r.3),
                                     callCount: Int(r.4), openUntil: r.5, updatedAt: r.6, reason: r.7))
        }
        return out
    }

    /// The latest transitions of a breaker, newest first.
    ///
    /// ```swift
    /// let last = try await store.transitions(of: "payment_service", limit: 10)
    /// ```
    public func transitions(of resourceKey: String, limit: Int = 100) async throws(PGStoreError) -> [PGBreakerTransition] {
        let sql = try requireBackend().statements.transitions
        let rows = try await statement("transitions") { pool in
            var out: [(String, Date, String, String, Int64, String, String)] = []
            for try await row in try await pool.query(PGQuery(unsafeSQL: sql, [resourceKey, Int64(limit)]), timeout: nil) {
                out.append(try row.decode((String, Date, String, String, Int64, String, String).self))
            }
            return out
        }
        var out: [PGBreakerTransition] = []
        for r in rows {
            out.append(PGBreakerTransition(resourceKey: r.0, at: r.1, from: try Self.decoded(r.2), to: try Self.decoded(r.3),
                                           generation: r.4, who: r.5, why: r.6))
        }
        return out
    }

    /// Opens a breaker for `cooldown` (then probes decide, as after a trip).
    ///
    /// ```swift
    /// try await store.open("payment_service", for: .seconds(120), why: "provider maintenance")
    /// ```
    public func open(_ resourceKey: String, for cooldown: Duration, why: String = "opened by an administrator",
                     who: String? = nil) async throws(PGStoreError) {
        guard cooldown >= .zero, cooldown <= .seconds(10 * 366 * 86_400) else {
            throw PGStoreError.breaker(.invalidConfiguration, "a cooldown must be 0 to 10 years, not \(cooldown)")
        }
        try await setState(resourceKey, target: "OPEN", cooldown: cooldown, why: why, who: who)
    }

    /// Closes a breaker and clears its window.
    ///
    /// ```swift
    /// try await store.close("payment_service")
    /// ```
    public func close(_ resourceKey: String, why: String = "closed by an administrator", who: String? = nil) async throws(PGStoreError) {
        try await setState(resourceKey, target: "CLOSED", cooldown: .zero, why: why, who: who)
    }

    /// Forces a breaker open until it is closed or reset (FORCED_OPEN).
    ///
    /// ```swift
    /// try await store.forceOpen("payment_service", why: "incident 4711")
    /// ```
    public func forceOpen(_ resourceKey: String, why: String = "forced open by an administrator", who: String? = nil) async throws(PGStoreError) {
        try await setState(resourceKey, target: "FORCED_OPEN", cooldown: .zero, why: why, who: who)
    }

    /// Disables a breaker: every call goes ahead and nothing is counted, until closed or reset.
    ///
    /// ```swift
    /// try await store.disable("payment_service")
    /// ```
    public func disable(_ resourceKey: String, why: String = "disabled by an administrator", who: String? = nil) async throws(PGStoreError) {
        try await setState(resourceKey, target: "DISABLED", cooldown: .zero, why: why, who: who)
    }

    /// Closes a breaker, clears its window and resets its growing cooldown.
    ///
    /// ```swift
    /// try await store.reset("payment_service")
    /// ```
    public func reset(_ resourceKey: String, why: String = "reset by an administrator", who: String? = nil) async throws(PGStoreError) {
        try await setState(resourceKey, target: "RESET", cooldown: .zero, why: why, who: who)
    }

    private func setState(_ key: String, target: String, cooldown: Duration, why: String, who: String?) async throws(PGStoreError) {
        let local = runState.withLock { $0.breakers[key] }
        guard backend != nil else {
            guard let local else { return }
            let (s, g) = local.core.withLock { c in (target == "RESET" ? PGBreakerState.closed : PGBreakerState(rawValue: target) ?? .closed,
                                                      c.generation + 1) }
            local.apply(s, generation: g, remaining: cooldown, why: why)
            return
        }
        let probes = local?.policy.successLimit.denominator ?? 1
        let (s, g, remaining) = try await admin(key, target: target, ifGeneration: nil, cooldown: cooldown, probes: probes,
                                                who: who ?? configuration.instanceName, why: why)
        local?.apply(s, generation: g, remaining: remaining, why: why)
    }
}
