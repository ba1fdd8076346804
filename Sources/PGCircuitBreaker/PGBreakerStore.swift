import Foundation
import CoreMetrics
import PGPoolCore
import Logging
import Metrics
import PGClient
import PGStoreSupport
import Synchronization

/// Where circuit breakers keep their state: PostgreSQL (a pool the app has, a URL, or resilient-circuit's
/// `RC_DB_*` variables and `.env` file) or memory. Breakers made from one store share its pool, its one
/// LISTEN and one background task that flushes outcomes and refreshes state.
///
/// ```swift
/// let store = try PGBreakerStore.fromEnvironment()        // RC_DB_HOST … or memory, loudly
/// try await store.start()
/// let api = try store.breaker("shared_external_api", policy: .init(cooldown: .seconds(300), failureLimit: .init(5, 10)))
/// try await api.run { try await callTheAPI() }
/// await store.shutdown()
/// ```
public final class PGBreakerStore: Sendable {
    /// The store's options.
    public struct Configuration: Sendable, Hashable {
        /// The schema (default `public`).
        public var schemaName: String
        /// The breakers table (default the seed's `rc_circuit_breakers`).
        public var tableName: String
        /// Create or update the tables at ``PGBreakerStore/start()``. Off by default: run `tusk setup breaker`
        /// once with a role that may create tables (the seed's `pg-setup`).
        public var autoCreate: Bool
        /// How often counted outcomes are flushed, one statement per breaker with outcomes (default 50 ms).
        public var flushInterval: Duration
        /// How often every breaker's state is re-read and expired cooldowns are ended (default 1 s); the safety
        /// net under NOTIFY, and the health check during an outage.
        public var refreshInterval: Duration
        /// The longest one store statement may take before the database counts as unreachable (default 500 ms).
        public var statementTimeout: Duration
        /// Pool size when the store opens its own pool.
        public var poolMaxSize: Int
        /// Who this process is in the transition log (default `host:pid:random`).
        public var instanceName: String

        /// The defaults.
        ///
        /// ```swift
        /// var c = PGBreakerStore.Configuration(schemaName: "resilience")
        /// c.autoCreate = true
        /// ```
        public init(schemaName: String = "public", tableName: String = "rc_circuit_breakers", autoCreate: Bool = false,
                    flushInterval: Duration = .milliseconds(50), refreshInterval: Duration = .seconds(1),
                    statementTimeout: Duration = .milliseconds(500), poolMaxSize: Int = 4,
                    instanceName: String = PGLeaseHolder.current().description) {
            self.schemaName = schemaName
            self.tableName = tableName
            self.autoCreate = autoCreate
            self.flushInterval = flushInterval
            self.refreshInterval = refreshInterval
            self.statementTimeout = statementTimeout
            self.poolMaxSize = poolMaxSize
            self.instanceName = instanceName
        }
    }

    struct Backend: Sendable {
        let database: PGStoreDatabase
        let names: PGStoreNames
        let statements: PGBreakerSchema.Statements
        let migrator: PGMigrator
    }

    /// The options.
    public let configuration: Configuration
    let backend: Backend?
    let observability = PGStoreObservability(store: "breaker")
    let fallbackGauge: Gauge
    let fallbackTotal: Counter
    let statementsTotal: Counter
    let runState: Mutex<RunState>
    /// True with in-memory storage or during an outage (read on every call, so an atomic, not the lock).
    private let local: Atomic<Bool>

    struct RunState {
        var status: PGBreakerStorageStatus
        var breakers: [String: PGBreaker] = [:]
        var tasks: [Task<Void, Never>] = []
        var lastRefresh = ContinuousClock.now
    }

    /// A store on PostgreSQL.
    ///
    /// ```swift
    /// let store = try PGBreakerStore(.url("postgres://app@db/app"), configuration: .init(autoCreate: true))
    /// let shared = try PGBreakerStore(.pool(appPool))
    /// ```
    /// - Throws: `.invalidConfiguration` for a bad schema or table name, URL or option.
    public init(_ connection: PGStoreConnection, configuration: Configuration = Configuration()) throws(PGStoreError) {
        guard configuration.poolMaxSize >= 1, configuration.flushInterval > .zero, configuration.refreshInterval > .zero,
              configuration.statementTimeout > .zero else {
            throw PGStoreError.breaker(.invalidConfiguration, "pool size, flush and refresh intervals and the statement timeout must be positive")
        }
        self.configuration = configuration
        let schema = try PGStoreIdentifier(configuration.schemaName, what: "schema name")
        let overrides = ["breakers": configuration.tableName]
        let names = try PGBreakerSchema.definition.names(schema: schema, overrides: overrides)
        var options = PGPool.Options()
        options.pool.minimumConnections = 1
        options.pool.maximumConnections = configuration.poolMaxSize
        self.backend = Backend(database: try PGStoreDatabase(connection, poolOptions: options), names: names,
                               statements: try PGBreakerSchema.Statements(names: names),
                               migrator: PGMigrator(schema: schema, stores: [PGBreakerSchema.definition], overrides: ["breaker": overrides]))
        self.runState = Mutex(RunState(status: .database))
        self.local = Atomic(false)
        (fallbackGauge, fallbackTotal, statementsTotal) = Self.metrics(observability)
    }

    private init(memory configuration: Configuration) {
        self.configuration = configuration
        self.backend = nil
        self.runState = Mutex(RunState(status: .memory))
        self.local = Atomic(true)
        (fallbackGauge, fallbackTotal, statementsTotal) = Self.metrics(observability)
    }

    private static func metrics(_ o: PGStoreObservability) -> (Gauge, Counter, Counter) {
        (Gauge(label: o.metricName("storage_fallback")), Counter(label: o.metricName("fallback_total")),
         Counter(label: o.metricName("statements_total")))
    }

    /// A store that keeps every breaker in this process only (resilient-circuit's `InMemoryStorage`).
    ///
    /// ```swift
    /// let local = PGBreakerStore.inMemory()
    /// ```
    public static func inMemory(configuration: Configuration = Configuration()) -> PGBreakerStore {
        PGBreakerStore(memory: configuration)
    }

    /// Where the breakers' state is kept right now.
    public var storageStatus: PGBreakerStorageStatus { runState.withLock { $0.status } }

    /// True with in-memory storage or during an outage: decisions come from local state only.
    var decidesLocally: Bool { local.load(ordering: .acquiring) }

    /// Checks the schema (or creates it with `autoCreate`), starts listening and the flush/refresh task.
    /// A missing schema is a typed error here (`.schemaMissing`, naming `tusk setup breaker`). With in-memory
    /// storage it only starts nothing.
    public func start() async throws(PGStoreError) {
        guard let backend else { return }
        if backend.database.ownsConnections { await backend.database.writerPool.start() }
        try await backend.database.write { c in try await backend.migrator.prepare(autoCreate: self.configuration.autoCreate, on: c) }
        let stream = try await backend.database.notifications(on: backend.statements.channel)
        let listener = Task { [weak self] in
            for await event in stream {
                guard let self else { return }
                switch event {
                case .notification(let n): self.notified(n.payload)
                case .reconnected: self.runState.withLock { $0.lastRefresh = .now - self.configuration.refreshInterval * 2 }
                }
            }
        }
        let loop = Task { [weak self] in
            while !Task.isCancelled {
                guard let interval = self?.configuration.flushInterval else { return }
                try? await Task.sleep(for: interval)
                await self?.tick()
            }
        }
        let previous = runState.withLock { s -> [Task<Void, Never>] in
            defer { s.tasks = [listener, loop] }
            return s.tasks
        }
        for t in previous { t.cancel() }   // started twice: the newer listener and loop replace the old
    }

    /// The breaker for `resourceKey`; the same object for the same key. Several processes using one key
    /// share one breaker; they should use one policy (the database decides with the policy of the process
    /// whose flush trips it).
    ///
    /// ```swift
    /// let b = try store.breaker("user_service_grpc", policy: .init(cooldown: .seconds(30), failureLimit: .init(5, 10)))
    /// ```
    /// - Throws: `.invalidConfiguration` for an empty key, one over 255 bytes or with a newline, or a bad policy.
    public func breaker(_ resourceKey: String, policy: PGBreakerPolicy = PGBreakerPolicy()) throws(PGStoreError) -> PGBreaker {
        guard !resourceKey.isEmpty, resourceKey.utf8.count <= 255, !resourceKey.contains("\n"), !resourceKey.contains("\0") else {
            throw PGStoreError.breaker(.invalidConfiguration, "a resource_key must be 1 to 255 bytes, without NUL or newline")
        }
        try policy.validate(resourceKey)
        return runState.withLock { s in
            if let b = s.breakers[resourceKey] { return b }
            let b = PGBreaker(resourceKey: resourceKey, policy: policy, store: self)
            s.breakers[resourceKey] = b
            return b
        }
    }

    /// Stops the background task and the listener, flushes what is counted, and closes the pool when the
    /// store opened it. Breakers of a shut-down store keep deciding from their last local state.
    public func shutdown() async {
        let tasks = runState.withLock { s -> [Task<Void, Never>] in
            defer { s.tasks = [] }
            return s.tasks
        }
        for t in tasks { t.cancel() }
        if backend != nil, !decidesLocally { await flushAll() }
        await backend?.database.shutdown()
        // Breakers hold their store; forgetting them here ends the cycle.
        runState.withLock { $0.breakers = [:] }
    }

    /// The SQL `tusk setup breaker --dry-run` prints for this store.
    public func setupSQL(on connection: PGConnection) async throws(PGStoreError) -> String {
        guard let backend else { return "" }
        return try await backend.migrator.plan(on: connection).sql
    }

    // MARK: - Background work

    func tick() async {
        guard !Task.isCancelled else { return }
        if decidesLocally {
            let last = runState.withLock { $0.lastRefresh }
            if ContinuousClock.now - last >= configuration.refreshInterval { await reconcile() }
            return
        }
        await flushAll()
        let last = runState.withLock { $0.lastRefresh }
        if ContinuousClock.now - last >= configuration.refreshInterval { await refresh() }
    }

    /// Flushes every breaker's counted outcomes now instead of at the next interval (the background task
    /// does this every ``Configuration/flushInterval``; call it before a planned shutdown or in tests).
    ///
    /// ```swift
    /// await store.flush()
    /// ```
    public func flush() async { await flushAll() }

    /// Re-reads every breaker's shared state now and ends expired cooldowns (the background task does this
    /// every ``Configuration/refreshInterval``); during an outage it tries to reconcile instead.
    ///
    /// ```swift
    /// await store.refreshNow()
    /// ```
    public func refreshNow() async {
        guard backend != nil else { return }
        if decidesLocally { await reconcile() } else { await refresh() }
    }

    func flushAll() async {
        let breakers = runState.withLock { Array($0.breakers.values) }
        for b in breakers {
            guard !decidesLocally, let (generation, p) = b.takePending() else { continue }
            do {
                let (s, g, remaining) = try await flush(b, generation: generation, pending: p)
                b.apply(s, generation: g, remaining: remaining, why: s == .open ? "opened by this process's flush" : "flushed")
            } catch {
                enterFallback(error)
                return
            }
        }
    }

    /// Re-reads every breaker (and ends expired cooldowns cluster-wide).
    @discardableResult
    func refresh() async -> Bool {
        runState.withLock { $0.lastRefresh = .now }
        let breakers = runState.withLock { $0.breakers }
        do {
            let rows = try await refreshRows(Array(breakers.keys))
            for (key, s, g, remaining) in rows { breakers[key]?.apply(s, generation: g, remaining: remaining, why: "refreshed") }
            return true
        } catch {
            enterFallback(error)
            return false
        }
    }

    /// During an outage: tries the database; when it answers, publishes the OPENs decided locally (unless
    /// the shared state moved on meanwhile: the newer shared state wins), then takes the shared state.
    func reconcile() async {
        runState.withLock { $0.lastRefresh = .now }
        guard backend != nil else { return }
        let breakers = runState.withLock { $0.breakers }
        do {
            _ = try await refreshRows([])
            for b in breakers.values {
                let snapshot = b.core.withLock { c -> (Int64, Duration)? in
                    guard c.openedLocally, c.state == .open || c.state == .halfOpen else { return nil }
                    let left = c.openUntil.map { max(.zero, $0 - ContinuousClock.now) } ?? .zero
                    return (c.generation, left)
                }
                guard let (generation, left) = snapshot else { continue }
                let (s, g, remaining) = try await admin(b.resourceKey, target: "OPEN", ifGeneration: generation,
                                                        cooldown: left, probes: b.policy.successLimit.denominator,
                                                        who: configuration.instanceName,
                                                        why: "opened locally during a database outage; published on reconnect")
                b.core.withLock { $0.openedLocally = false }
                b.apply(s, generation: g, remaining: remaining, why: "reconciled")
            }
            let rows = try await refreshRows(Array(breakers.keys))
            leaveFallback()
            for (key, s, g, remaining) in rows { breakers[key]?.apply(s, generation: g, remaining: remaining, why: "reconciled") }
        } catch {
            // Still unreachable; stay local.
        }
    }

    func notified(_ payload: String) {
        guard !decidesLocally else { return }
        let parts = payload.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, let g = Int64(parts[0]), let s = PGBreakerState(rawValue: String(parts[1])),
              let us = Int64(parts[2]) else { return }
        let b = runState.withLock { $0.breakers[String(parts[3])] }
        b?.apply(s, generation: g, remaining: .microseconds(us), why: "notified")
    }

    // MARK: - Fallback

    /// Switches to local decisions, loudly (a log line on the change, the gauge, the status).
    func enterFallback(_ error: any Error) {
        guard backend != nil, !Task.isCancelled, !(error is CancellationError),
              (error as? PGStoreError)?.code != .cancelled else { return }
        let reason = (error as? PGStoreError)?.message ?? "\(error)"
        let changed = runState.withLock { s -> Bool in
            guard !s.status.isFallback else { return false }
            s.status = .fallback(since: Date(), reason: reason)
            s.lastRefresh = .now
            local.store(true, ordering: .releasing)
            return true
        }
        guard changed else { return }
        fallbackGauge.record(1)
        fallbackTotal.increment()
        observability.logger.error("circuit breakers fall back to local state: the database is unreachable",
                                   metadata: ["reason": "\(reason)"])
    }

    func leaveFallback() {
        let changed = runState.withLock { s -> Bool in
            guard s.status.isFallback else { return false }
            s.status = .database
            local.store(false, ordering: .releasing)
            return true
        }
        guard changed else { return }
        fallbackGauge.record(0)
        observability.logger.notice("circuit breakers share state through the database again")
    }

    func logTransition(_ b: PGBreaker, from: PGBreakerState, to: PGBreakerState, why: String) {
        guard from != to else { return }
        b.policy.onStateChange?(b.resourceKey, from, to)
        b.metrics.transitions.increment()
        observability.logger.info("circuit breaker \(b.resourceKey): \(from.rawValue) -> \(to.rawValue)", metadata: ["why": "\(why)"])
    }
}
