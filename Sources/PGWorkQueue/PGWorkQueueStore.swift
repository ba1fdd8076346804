import Foundation
import Logging
import Metrics
import PGClient
import PGPoolCore
import PGStoreSupport
import Synchronization

/// Where work queues live: one PostgreSQL database (a pool the app has, or a URL), its queue settings
/// table, and the partition tables of its queues. Queues opened from one store share its pool, one LISTEN
/// for wake-ups, and one background task that sweeps them (due scheduled items become ready, expired
/// leases return, items out of attempts or past their expiry are dead-lettered).
///
/// ```swift
/// let store = try PGWorkQueueStore(.url("postgres://app@db/app"), configuration: .init(autoCreate: true))
/// try await store.start()
/// let emails = try await store.createQueue(PGQueueSettings(name: "emails", maxAttempts: 5))
/// _ = try await emails.produce([PGQueueItem(payload: Data("hi".utf8))])
/// await store.shutdown()
/// ```
public final class PGWorkQueueStore: Sendable {
    /// The store's options.
    public struct Configuration: Sendable, Hashable {
        /// The schema (default `public`).
        public var schemaName: String
        /// Create or update the settings table at ``PGWorkQueueStore/start()`` (default off: `tusk setup queue`).
        public var autoCreate: Bool
        /// The longest one store statement may take (default 2 s); past it the call throws `.timeout`.
        public var statementTimeout: Duration
        /// How often the background task sweeps every opened queue (default 250 ms).
        public var sweepInterval: Duration
        /// Pool size when the store opens its own pool (default 4).
        public var poolMaxSize: Int
        /// Who holds this process's leases (default `host:pid:random`).
        public var holder: String

        /// The defaults.
        ///
        /// ```swift
        /// var c = PGWorkQueueStore.Configuration(schemaName: "work")
        /// c.autoCreate = true
        /// ```
        public init(schemaName: String = "public", autoCreate: Bool = false, statementTimeout: Duration = .seconds(2),
                    sweepInterval: Duration = .milliseconds(250), poolMaxSize: Int = 4,
                    holder: String = PGLeaseHolder.current().description) {
            self.schemaName = schemaName
            self.autoCreate = autoCreate
            self.statementTimeout = statementTimeout
            self.sweepInterval = sweepInterval
            self.poolMaxSize = poolMaxSize
            self.holder = holder
        }
    }

    /// The options.
    public let configuration: Configuration
    let database: PGStoreDatabase
    let schema: PGStoreIdentifier
    let names: PGStoreNames
    let migrator: PGMigrator
    let observability = PGStoreObservability(store: "queue")
    let statementsTotal: Counter
    /// The NOTIFY channel (payload: the queue's name).
    let channel = "tusk_queue"
    let state = Mutex(RunState())

    struct RunState {
        var queues: [String: PGWorkQueue] = [:]
        var tasks: [Task<Void, Never>] = []
    }

    /// A store on PostgreSQL.
    ///
    /// ```swift
    /// let store = try PGWorkQueueStore(.pool(appPool))
    /// ```
    /// - Throws: `.invalidConfiguration` for a bad schema name, URL or option.
    public init(_ connection: PGStoreConnection, configuration: Configuration = Configuration()) throws(PGStoreError) {
        guard configuration.poolMaxSize >= 1, configuration.statementTimeout > .zero, configuration.sweepInterval > .zero else {
            throw PGStoreError.queue(.invalidConfiguration, "pool size, statement timeout and sweep interval must be positive")
        }
        self.configuration = configuration
        schema = try PGStoreIdentifier(configuration.schemaName, what: "schema name")
        names = try PGWorkQueueSchema.definition.names(schema: schema)
        migrator = PGMigrator(schema: schema, stores: [PGWorkQueueSchema.definition])
        var options = PGPool.Options()
        options.pool.minimumConnections = 1
        options.pool.maximumConnections = configuration.poolMaxSize
        database = try PGStoreDatabase(connection, poolOptions: options)
        statementsTotal = Counter(label: observability.metricName("statements_total"))
    }

    /// Checks the schema (or creates it with `autoCreate`), starts listening for wake-ups and the sweep task.
    ///
    /// ```swift
    /// try await store.start()
    /// ```
    /// - Throws: `.schemaMissing` naming `tusk setup queue` when the table is missing and `autoCreate` is off.
    public func start() async throws(PGStoreError) {
        if database.ownsConnections { await database.writerPool.start() }
        try await database.write { c in try await self.migrator.prepare(autoCreate: self.configuration.autoCreate, on: c) }
        let stream = try await database.notifications(on: channel)
        let listener = Task { [weak self] in
            for await event in stream {
                guard let self else { return }
                switch event {
                case .notification(let n): self.state.withLock { $0.queues[n.payload] }?.wakeup.signal()
                case .reconnected: for q in self.state.withLock({ Array($0.queues.values) }) { q.wakeup.signal() }
                }
            }
        }
        let sweeper = Task { [weak self] in
            while !Task.isCancelled {
                guard let interval = self?.configuration.sweepInterval else { return }
                try? await Task.sleep(for: interval)
                guard let self else { return }
                for q in self.state.withLock({ Array($0.queues.values) }) {
                    do { _ = try await q.sweep() } catch let error as PGStoreError where !Task.isCancelled && error.code != .cancelled {
                        self.observability.logger.warning("sweep of queue \(q.settings.name) failed: \(error)")
                    } catch {}
                }
            }
        }
        let previous = state.withLock { s -> [Task<Void, Never>] in
            defer { s.tasks = [listener, sweeper] }
            return s.tasks
        }
        for t in previous { t.cancel() }
    }

    /// Stops the listener and the sweep task; closes the pool when the store opened it.
    ///
    /// ```swift
    /// await store.shutdown()
    /// ```
    public func shutdown() async {
        let (tasks, queues) = state.withLock { s in
            defer { s.tasks = []; s.queues = [:] }
            return (s.tasks, Array(s.queues.values))
        }
        for t in tasks { t.cancel() }
        for q in queues { q.wakeup.signal() }
        await database.shutdown()
    }

    /// One statement on the writer pool, raced against the statement timeout.
    func statement<T: Sendable>(_ what: String, _ body: @escaping @Sendable (PGPool) async throws -> T) async throws(PGStoreError) -> T {
        let pool = database.writerPool
        statementsTotal.increment()
        return try await PGStoreDeadline.run(within: configuration.statementTimeout, what: what, store: "queue") { try await body(pool) }
    }

    /// Creates a queue (or updates its settings) and its partition tables, and opens it.
    ///
    /// ```swift
    /// let q = try await store.createQueue(PGQueueSettings(name: "orders", partitions: 4))
    /// ```
    /// - Throws: `.invalidConfiguration` for bad settings or a missing dead-letter queue.
    public func createQueue(_ settings: PGQueueSettings) async throws(PGStoreError) -> PGWorkQueue {
        try settings.validate()
        let sql = try names.render("""
            INSERT INTO {{queues}} (name, table_hash, lease_timeout_ms, expire_timeout_ms, max_attempts, dead_queue, partitions,
                                    reference, created_at, updated_at)
            VALUES ($1, left(md5($1), 12), $2, $3, $4, $5, $6, $7, {{tusk_now}}(), {{tusk_now}}())
            ON CONFLICT (name) DO UPDATE SET lease_timeout_ms = excluded.lease_timeout_ms,
                expire_timeout_ms = excluded.expire_timeout_ms, max_attempts = excluded.max_attempts,
                dead_queue = excluded.dead_queue, partitions = greatest({{queues}}.partitions, excluded.partitions),
                reference = excluded.reference, updated_at = excluded.updated_at
            RETURNING 1
            """)
        let binds: [any PGEncodable] = [settings.name, Self.ms(settings.leaseTimeout), Self.ms(settings.expireTimeout),
                                        Int32(settings.maxAttempts), settings.deadQueue, Int32(settings.partitions), settings.reference]
        _ = try await statement("create queue \(settings.name)") { pool in
            try await pool.queryOne(PGQuery(unsafeSQL: sql, binds), as: Int32.self)
        }
        state.withLock { _ = $0.queues.removeValue(forKey: settings.name) }
        return try await queue(settings.name)
    }

    /// Opens an existing queue (creating missing partition tables).
    ///
    /// ```swift
    /// let q = try await store.queue("orders")
    /// ```
    /// - Throws: `.invalidConfiguration` when there is no such queue.
    public func queue(_ name: String) async throws(PGStoreError) -> PGWorkQueue {
        if let q = state.withLock({ $0.queues[name] }) { return q }
        guard let (settings, hash) = try await loadSettings(name) else {
            throw PGStoreError.queue(.invalidConfiguration, "there is no queue named \(name)")
        }
        var dead: PGQualifiedName?
        var deadExpire: Int64 = 0
        if let d = settings.deadQueue {
            guard let (ds, dh) = try await loadSettings(d) else {
                throw PGStoreError.queue(.invalidConfiguration, "queue \(name): its dead-letter queue \(d) does not exist")
            }
            try await ensurePartitions(hash: dh, count: 1)
            dead = PGQualifiedName(schema: schema, name: try PGStoreIdentifier(PGWorkQueueSchema.tableName(hash: dh, partition: 0)))
            deadExpire = Self.ms(ds.expireTimeout)
        }
        try await ensurePartitions(hash: hash, count: settings.partitions)
        var statements: [PGWorkQueueSchema.Statements] = []
        for p in 0..<settings.partitions {
            let table = PGQualifiedName(schema: schema, name: try PGStoreIdentifier(PGWorkQueueSchema.tableName(hash: hash, partition: p)))
            statements.append(PGWorkQueueSchema.Statements(schema: schema, table: table, dead: dead))
        }
        let q = PGWorkQueue(settings: settings, hash: hash, statements: statements, deadExpireMilliseconds: deadExpire, store: self)
        return state.withLock { s in
            if let existing = s.queues[name] { return existing }
            s.queues[name] = q
            return q
        }
    }

    /// Every queue's settings, by name.
    ///
    /// ```swift
    /// for s in try await store.listQueues() { print(s.name, s.partitions) }
    /// ```
    public func listQueues() async throws(PGStoreError) -> [PGQueueSettings] {
        let sql = try names.render("SELECT name, lease_timeout_ms, expire_timeout_ms, max_attempts, dead_queue, partitions, reference FROM {{queues}} ORDER BY name")
        return try await statement("list queues") { pool in
            var out: [PGQueueSettings] = []
            for try await row in try await pool.query(PGQuery(unsafeSQL: sql), timeout: nil) {
                let r = try row.decode((String, Int64, Int64, Int32, String?, Int32, String).self)
                out.append(Self.settings(r))
            }
            return out
        }
    }

    /// Deletes a queue: its settings row and its partition tables (items included).
    ///
    /// ```swift
    /// try await store.deleteQueue("orders")
    /// ```
    public func deleteQueue(_ name: String) async throws(PGStoreError) {
        guard let (settings, hash) = try await loadSettings(name) else { return }
        var ddl = try names.render("DELETE FROM {{queues}} WHERE name = ") + Self.literal(name) + ";\n"
        for p in 0..<settings.partitions {
            let t = PGQualifiedName(schema: schema, name: try PGStoreIdentifier(PGWorkQueueSchema.tableName(hash: hash, partition: p)))
            ddl += "DROP TABLE IF EXISTS \(t.quoted);\n"
        }
        let sql = ddl
        _ = try await statement("delete queue \(name)") { pool in
            try await pool.withConnection { c in try await c.withTransaction { tx in _ = try await tx.simpleQuery(sql) } }
        }
        state.withLock { _ = $0.queues.removeValue(forKey: name) }
    }

    func loadSettings(_ name: String) async throws(PGStoreError) -> (PGQueueSettings, String)? {
        let sql = try names.render("""
            SELECT name, lease_timeout_ms, expire_timeout_ms, max_attempts, dead_queue, partitions, reference, table_hash
              FROM {{queues}} WHERE name = $1
            """)
        let row = try await statement("settings of \(name)") { pool in
            try await pool.queryOptional(PGQuery(unsafeSQL: sql, [name]))?.decode((String, Int64, Int64, Int32, String?, Int32, String, String).self)
        }
        guard let r = row else { return nil }
        guard r.7.count == 12, r.7.allSatisfy(\.isHexDigit) else {
            throw PGStoreError.queue(.database, "queue \(name) has a malformed table hash")
        }
        return (Self.settings((r.0, r.1, r.2, r.3, r.4, r.5, r.6)), r.7)
    }

    /// Creates missing partition tables. Existing ones are only looked up (`to_regclass`), so a runtime role
    /// without `CREATE` on the schema can open queues whose tables the setup role made.
    func ensurePartitions(hash: String, count: Int) async throws(PGStoreError) {
        var tables: [String] = []
        for p in 0..<count {
            tables.append(PGQualifiedName(schema: schema, name: try PGStoreIdentifier(PGWorkQueueSchema.tableName(hash: hash, partition: p))).quoted)
        }
        let probe = tables
        let missing = try await statement("partitions of \(hash)") { pool in
            try await pool.queryOne(PGQuery(unsafeSQL: "SELECT count(*) FROM unnest($1::text[]) AS t(n) WHERE to_regclass(t.n) IS NULL", [probe]),
                                    as: Int64.self)
        }
        guard missing > 0 else { return }
        var ddl = "SELECT pg_advisory_xact_lock(hashtext(\(Self.literal("tusk_queue " + schema.name + " " + hash))));\n"
        for p in 0..<count { ddl += try PGWorkQueueSchema.partitionDDL(schema: schema, hash: hash, partition: p) + "\n" }
        let sql = ddl
        _ = try await statement("partitions of \(hash)") { pool in
            try await pool.withConnection { c in try await c.withTransaction { tx in _ = try await tx.simpleQuery(sql) } }
        }
    }

    static func settings(_ r: (String, Int64, Int64, Int32, String?, Int32, String)) -> PGQueueSettings {
        PGQueueSettings(name: r.0, leaseTimeout: .milliseconds(r.1), expireTimeout: .milliseconds(r.2), maxAttempts: Int(r.3),
                        deadQueue: r.4, partitions: Int(r.5), reference: r.6)
    }

    /// A SQL string literal (standard conforming strings).
    static func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    static func ms(_ d: Duration) -> Int64 {
        d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }
}
