import Foundation
import Logging
import Metrics
import PGClient
import PGPoolCore
import PGStoreSupport
import Synchronization

/// Where rate limiters keep their state: one database (a pool the app has, or a URL), one schema and
/// table (rate-sync's `[stores.<name>]`). Limiters made from one store share its pool and its one LISTEN.
///
/// ```swift
/// let store = try PGRateLimiterStore(.url("postgres://app@db/app"), configuration: .init(autoCreate: true))
/// try await store.start()
/// let api = try store.limiter("api", .perSecond(100, maxConcurrent: 50))
/// try await api.withPermit { try await callTheAPI() }
/// await store.shutdown()
/// ```
public final class PGRateLimiterStore: Sendable {
    /// rate-sync's store options, with its names and defaults.
    public struct Configuration: Sendable, Hashable {
        /// The schema (`schema_name`), default `public`.
        public var schemaName: String
        /// The state table (`table_name`), default `rate_limiter_state`.
        public var tableName: String
        /// The concurrency slots table; nil: `rate_limiter_slots`, or `<table_name>_slots` for another `table_name`.
        public var slotsTableName: String?
        /// Create or update the tables at ``PGRateLimiterStore/start()`` (`auto_create`). Off by default, as the
        /// seed recommends for production: run `tusk setup ratelimit` once with a role that may create tables.
        public var autoCreate: Bool
        /// Pool size when the store opens its own pool (`pool_min_size`, `pool_max_size`).
        public var poolMinSize: Int
        public var poolMaxSize: Int
        /// rate-sync's `timing_margin_ms`. Accepted for compatibility and never used to admit earlier: decisions
        /// are made on the database's clock, so there is no skew between app servers to absorb.
        public var timingMarginMs: Double
        /// When the store opens its own pool: commit limiter writes without waiting for the WAL flush
        /// (`synchronous_commit = off` for its sessions). A server crash then forgets at most the last
        /// ~0.6 s of admissions. Default true: limiter state is ephemeral.
        public var asynchronousCommit: Bool

        /// rate-sync's defaults.
        public init(schemaName: String = "public", tableName: String = "rate_limiter_state", slotsTableName: String? = nil,
                    autoCreate: Bool = false, poolMinSize: Int = 2, poolMaxSize: Int = 10, timingMarginMs: Double = 10,
                    asynchronousCommit: Bool = true) {
            self.schemaName = schemaName
            self.tableName = tableName
            self.slotsTableName = slotsTableName
            self.autoCreate = autoCreate
            self.poolMinSize = poolMinSize
            self.poolMaxSize = poolMaxSize
            self.timingMarginMs = timingMarginMs
            self.asynchronousCommit = asynchronousCommit
        }
    }

    public let configuration: Configuration
    let database: PGStoreDatabase
    let names: PGStoreNames
    let statements: PGRateLimiterSchema.Statements
    let migrator: PGMigrator
    let holderPrefix: String
    let observability = PGStoreObservability(store: "ratelimit")
    let wakeups = PGRateLimiterWakeups()
    private let state = Mutex(RunState())

    private struct RunState {
        var started = false
        var listener: Task<Void, Never>?
        var limiters: [String: PGRateLimiter] = [:]
    }

    /// A store on `connection` with rate-sync's options.
    ///
    /// ```swift
    /// let store = try PGRateLimiterStore(.pool(appPool))
    /// ```
    /// - Throws: `.invalidConfiguration` for a bad schema or table name, pool size or URL.
    public init(_ connection: PGStoreConnection, configuration: Configuration = Configuration()) throws(PGStoreError) {
        guard configuration.poolMinSize >= 0, configuration.poolMaxSize >= 1, configuration.poolMinSize <= configuration.poolMaxSize else {
            throw PGStoreError(code: .invalidConfiguration,
                               message: "pool_min_size (\(configuration.poolMinSize)) and pool_max_size (\(configuration.poolMaxSize)) must satisfy 0 ≤ min ≤ max, max ≥ 1",
                               store: "ratelimit")
        }
        self.configuration = configuration
        let schema = try PGStoreIdentifier(configuration.schemaName, what: "schema_name")
        let overrides = ["state": configuration.tableName, "slots": configuration.slotsTableName ?? Self.slotsTable(for: configuration.tableName)]
        self.names = try PGRateLimiterSchema.definition.names(schema: schema, overrides: overrides)
        self.statements = try PGRateLimiterSchema.Statements(names: names)
        self.migrator = PGMigrator(schema: schema, stores: [PGRateLimiterSchema.definition], overrides: ["ratelimit": overrides])
        var options = PGPool.Options()
        options.pool.minimumConnections = configuration.poolMinSize
        options.pool.maximumConnections = configuration.poolMaxSize
        self.database = try PGStoreDatabase(Self.ownSessions(connection, asynchronousCommit: configuration.asynchronousCommit),
                                            poolOptions: options)
        self.holderPrefix = PGLeaseHolder.current().description
    }

    /// The slots table that goes with a state table: `rate_limiter_slots` for the default, else `<table>_slots`.
    static func slotsTable(for table: String) -> String {
        table == "rate_limiter_state" ? "rate_limiter_slots" : table + "_slots"
    }

    /// The store's own sessions (from a URL or the environment) commit without waiting for the WAL flush.
    static func ownSessions(_ connection: PGStoreConnection, asynchronousCommit: Bool) throws(PGStoreError) -> PGStoreConnection {
        guard asynchronousCommit else { return connection }
        var config: PGConnectionConfiguration
        switch connection {
        case .url(let url):
            do {
                config = try PGConnectionConfiguration(url, environment: ProcessInfo.processInfo.environment)
            } catch {
                throw PGStoreError(code: .invalidConfiguration, message: "invalid connection string: \(error.message)", store: "ratelimit",
                                   underlying: error)
            }
        case .environment:
            config = try PGStoreDatabase.configurationFromEnvironment()
        case .configuration(let c):
            config = c
        case .pool, .cluster:
            return connection
        }
        if config.extraStartupParameters["synchronous_commit"] == nil {
            config.extraStartupParameters["synchronous_commit"] = "off"
        }
        return .configuration(config)
    }

    /// Starts the pool (when the store owns it), checks the schema — or creates it with `autoCreate` — and
    /// starts listening for freed slots. A missing or outdated schema is a typed error here, naming the table
    /// and the command that creates it, never a failure at the first acquire.
    public func start() async throws(PGStoreError) {
        try await database.write { c in try await self.migrator.prepare(autoCreate: self.configuration.autoCreate, on: c) }
        let stream = try await database.notifications(on: statements.channel)
        let wakeups = self.wakeups
        let task = Task {
            for await event in stream {
                switch event {
                case .notification(let n): await wakeups.signal(n.payload)
                case .reconnected: await wakeups.signalAll()   // notifications may have been missed
                }
            }
        }
        state.withLock {
            $0.listener?.cancel()
            $0.listener = task
            $0.started = true
        }
    }

    /// A limiter of this store. Several processes using the same name share one limit.
    ///
    /// ```swift
    /// let perUser = try store.limiter("uploads", .slidingWindow(20, per: .seconds(60)))
    /// try await perUser.acquire(key: userID)
    /// ```
    /// - Throws: `.invalidConfiguration` for an empty or too long name or inconsistent numbers.
    public func limiter(_ name: String, _ limit: PGRateLimit, options: PGRateLimiter.Options = .init()) throws(PGStoreError) -> PGRateLimiter {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 255, !trimmed.contains("\0"), !trimmed.contains("\n") else {
            throw PGStoreError(code: .invalidConfiguration, message: "a limiter's name must be 1 to 255 bytes, without NUL or newline",
                               store: "ratelimit")
        }
        try limit.validate(limiter: trimmed)
        let limiter = PGRateLimiter(name: trimmed, limit: limit, options: options, store: self)
        state.withLock { $0.limiters[trimmed] = limiter }
        return limiter
    }

    /// The limiters made so far, by name.
    public var limiters: [String: PGRateLimiter] { state.withLock { $0.limiters } }

    /// Stops listening and closes the pool when the store opened it (rate-sync's `disconnect()`). Permits still
    /// held keep their slots until released or their lease runs out.
    public func shutdown() async {
        let listener = state.withLock { s -> Task<Void, Never>? in
            let l = s.listener
            s.listener = nil
            s.started = false
            return l
        }
        listener?.cancel()
        await wakeups.signalAll()
        await database.shutdown()
    }

    /// The SQL `tusk setup ratelimit --dry-run` prints for this store.
    public func setupSQL(on connection: PGConnection) async throws(PGStoreError) -> String {
        try await migrator.plan(on: connection).sql
    }

    /// Runs one statement on the writer pool with a deadline. The deadline is kept even when the database
    /// does not answer at all (a stalled network): the caller gets `.timeout` then, and the statement's own
    /// task is left to end by itself.
    func run<T: Sendable>(_ what: String, deadline: ContinuousClock.Instant,
                          _ body: @escaping @Sendable (PGPool) async throws -> T) async throws(PGStoreError) -> T {
        let remaining = ContinuousClock.now.duration(to: deadline)
        guard remaining > .zero else {
            throw PGStoreError(code: .timeout, message: "\(what): no time left", store: "ratelimit", isSafeToRetry: true)
        }
        let pool = database.writerPool
        do {
            return try await PGStoreDeadline.run(within: remaining, what: what, store: "ratelimit") { try await body(pool) }
        } catch {
            throw PGStoreError.from(error, store: "ratelimit")
        }
    }
}
