import CoreMetrics
import Foundation
import Logging
import Logging
import Metrics
import PGClient
import PGPoolCore
import PGStoreSupport
import Synchronization

/// Actor state in PostgreSQL (Trebuchet's `PostgreSQLStateStore`, rebuilt): `Codable` state per actor id with
/// a sequence number, compare-and-set in one statement, atomic transforms, tombstone deletes (sequences
/// never restart), fenced activations, and a change stream that catches up from an ordered log.
///
/// ```swift
/// let store = try PGActorStateStore(connectionString: "postgresql://user:password@localhost:5432/trebuchet")
/// try await store.start()
/// try await store.save(myState, for: "actor-123")
/// let state = try await store.load(for: "actor-123", as: MyState.self)
/// let next = try await store.transform(for: "counter", as: Int.self) { ($0 ?? 0) + 1 }
/// try await store.delete(for: "actor-123")
/// await store.shutdown()
/// ```
public final class PGActorStateStore: Sendable {
    /// The store's options.
    public struct Configuration: Sendable, Hashable {
        /// The schema (default `public`).
        public var schemaName: String
        /// The state table (default the seed's `actor_states`); validated and quoted.
        public var tableName: String
        /// Create or update the tables at ``PGActorStateStore/start()``. Off by default: run
        /// `tusk setup actors` once with a role that may create tables.
        public var autoCreate: Bool
        /// The longest one statement may take (default 5 s); past it the call fails with `.timeout`.
        public var statementTimeout: Duration
        /// Pool size when the store opens its own pool (default 8).
        public var poolMaxSize: Int
        /// Compare-and-set attempts of a transform before it takes the row lock (`SELECT … FOR UPDATE` in one
        /// short transaction), which always makes progress (default 4).
        public var optimisticAttempts: Int
        /// Who this process is in activation leases (default `host:pid:random`).
        public var holderName: String
        /// How often a change stream reads the log when no NOTIFY woke it (default 1 s): the safety net.
        public var changePollInterval: Duration
        /// Rows a change stream reads per round trip (default 1,000).
        public var changeBatchSize: Int

        /// The defaults.
        ///
        /// ```swift
        /// var c = PGActorStateStore.Configuration(tableName: "my_custom_actor_states")
        /// c.autoCreate = true
        /// ```
        public init(schemaName: String = "public", tableName: String = "actor_states", autoCreate: Bool = false,
                    statementTimeout: Duration = .seconds(5), poolMaxSize: Int = 8, optimisticAttempts: Int = 4,
                    holderName: String = PGLeaseHolder.current().description,
                    changePollInterval: Duration = .seconds(1), changeBatchSize: Int = 1_000) {
            self.schemaName = schemaName
            self.tableName = tableName
            self.autoCreate = autoCreate
            self.statementTimeout = statementTimeout
            self.poolMaxSize = poolMaxSize
            self.optimisticAttempts = optimisticAttempts
            self.holderName = holderName
            self.changePollInterval = changePollInterval
            self.changeBatchSize = changeBatchSize
        }
    }

    /// The options.
    public let configuration: Configuration
    let database: PGStoreDatabase
    let names: PGStoreNames
    let statements: PGActorStateSchema.Statements
    let migrator: PGMigrator
    let observability = PGStoreObservability(store: "actors")
    let metrics: Metrics
    let subscriptions = Mutex<[Int: Task<Void, Never>]>([:])
    let nextSubscription = Atomic<Int>(0)

    struct Metrics: Sendable {
        let saves: Counter
        let conflicts: Counter
        let fenced: Counter
        let loads: Counter
        let retries: Counter
        let lockedTransforms: Counter
        let changesDelivered: Counter
        let reloadAll: Counter

        init(_ o: PGStoreObservability) {
            saves = Counter(label: o.metricName("saves_total"))
            conflicts = Counter(label: o.metricName("conflicts_total"))
            fenced = Counter(label: o.metricName("fenced_total"))
            loads = Counter(label: o.metricName("loads_total"))
            retries = Counter(label: o.metricName("transform_retries_total"))
            lockedTransforms = Counter(label: o.metricName("locked_transforms_total"))
            changesDelivered = Counter(label: o.metricName("changes_delivered_total"))
            reloadAll = Counter(label: o.metricName("reload_all_total"))
        }
    }

    /// A store on a pool the app has (`.pool`), a cluster (`.cluster`: reads on a replica), a URL, a parsed
    /// configuration (TLS and all) or the environment.
    ///
    /// ```swift
    /// let shared = try PGActorStateStore(.pool(appPool))                       // share one pool
    /// let own = try PGActorStateStore(.url("postgres://app@db/app"), configuration: .init(autoCreate: true))
    /// ```
    /// - Throws: `.invalidConfiguration` for a bad schema or table name, URL or option.
    public init(_ connection: PGStoreConnection, configuration: Configuration = Configuration()) throws(PGStoreError) {
        guard configuration.poolMaxSize >= 1, configuration.statementTimeout > .zero, configuration.optimisticAttempts >= 1,
              configuration.changePollInterval > .zero, configuration.changeBatchSize >= 1 else {
            throw PGStoreError.actors(.invalidConfiguration,
                                      "pool size, statement timeout, optimistic attempts, poll interval and batch size must be positive")
        }
        self.configuration = configuration
        let schema = try PGStoreIdentifier(configuration.schemaName, what: "schema name")
        let overrides = ["states": try PGStoreIdentifier(configuration.tableName, what: "table name").name]
        names = try PGActorStateSchema.definition.names(schema: schema, overrides: overrides)
        statements = try PGActorStateSchema.Statements(names: names)
        migrator = PGMigrator(schema: schema, stores: [PGActorStateSchema.definition], overrides: ["actors": overrides])
        var options = PGPool.Options()
        options.pool.minimumConnections = 1
        options.pool.maximumConnections = configuration.poolMaxSize
        database = try PGStoreDatabase(connection, poolOptions: options)
        metrics = Metrics(observability)
    }

    /// A store from a connection string (`postgresql://user:password@host:5432/db`), as in the seed.
    ///
    /// ```swift
    /// let store = try PGActorStateStore(connectionString: "postgresql://localhost/trebuchet")
    /// ```
    public convenience init(connectionString: String, tableName: String = "actor_states",
                            configuration: Configuration = Configuration()) throws(PGStoreError) {
        var c = configuration
        c.tableName = tableName
        try self.init(.url(connectionString), configuration: c)
    }

    /// A store from host, port, database, user and password, as in the seed (TLS: `prefer`; pass a
    /// `PGConnectionConfiguration` with `sslMode = .require` or `.verifyFull` through `init(_:configuration:)`).
    ///
    /// ```swift
    /// let store = try PGActorStateStore(host: "localhost", database: "trebuchet", username: "postgres", password: "password")
    /// ```
    public convenience init(host: String = "localhost", port: Int = 5432, database: String, username: String,
                            password: String? = nil, tableName: String = "actor_states",
                            configuration: Configuration = Configuration()) throws(PGStoreError) {
        var connection: PGConnectionConfiguration
        do {
            connection = try PGConnectionConfiguration(url: "postgres://localhost")
        } catch {
            throw PGStoreError(code: .invalidConfiguration, message: error.message, store: "actors", underlying: error)
        }
        connection.hosts = [.tcp(host: host, port: port)]
        connection.user = username
        connection.password = password
        connection.database = database
        var c = configuration
        c.tableName = tableName
        try self.init(.configuration(connection), configuration: c)
    }

    /// Checks the schema (or creates it with `autoCreate`). A missing schema is a typed error here
    /// (`.schemaMissing`, naming `tusk setup actors`).
    ///
    /// ```swift
    /// try await store.start()
    /// ```
    public func start() async throws(PGStoreError) {
        if database.ownsConnections { await database.writerPool.start() }
        try await database.write { c in try await self.migrator.prepare(autoCreate: self.configuration.autoCreate, on: c) }
    }

    /// Ends every change stream and closes the pool when the store opened it.
    ///
    /// ```swift
    /// await store.shutdown()
    /// ```
    public func shutdown() async {
        let tasks = subscriptions.withLock { s -> [Task<Void, Never>] in
            defer { s = [:] }
            return Array(s.values)
        }
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
        await database.shutdown()
    }

    /// The SQL `tusk setup actors --dry-run` prints for this store.
    public func setupSQL(on connection: PGConnection) async throws(PGStoreError) -> String {
        try await migrator.plan(on: connection).sql
    }

    // MARK: - Statements

    func write<T: Sendable>(_ what: String, _ body: @escaping @Sendable (PGConnection, Duration) async throws -> T) async throws(PGStoreError) -> T {
        let timeout = configuration.statementTimeout
        let database = self.database
        return try await observability.span(what, schema: names.schema) { () async throws(PGStoreError) -> T in
            do {
                return try await database.write { c in try await body(c, timeout) }
            } catch {
                throw PGStoreError.from(error, store: "actors")
            }
        }
    }

    static func validate(_ actorID: String) throws(PGStoreError) {
        guard !actorID.isEmpty, actorID.utf8.count <= 255, !actorID.contains("\0") else {
            throw PGStoreError.actors(.invalidConfiguration, "an actor id must be 1 to 255 bytes without NUL")
        }
    }
}
