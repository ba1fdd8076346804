import Synchronization

/// The stores the `tusk` command line knows, by name: their migrations and grants.
///
/// The four stores (`ratelimit`, `breaker`, `queue`, `actors`) are always listed; until a store's module
/// registers its definition it has no migrations, so `tusk setup all` prints an empty section for it.
///
/// ```swift
/// PGStoreRegistry.register(myStoreDefinition)
/// for store in PGStoreRegistry.stores(named: "all") { print(store.name, store.migrations.count) }
/// ```
public enum PGStoreRegistry {
    /// The stores `tusk setup all` covers, in order.
    public static let knownNames = ["ratelimit", "breaker", "queue", "actors"]

    private static let registered = Mutex<[String: PGStoreDefinition]>([:])

    /// Adds or replaces a store definition.
    ///
    /// ```swift
    /// PGStoreRegistry.register(PGStoreDefinition(name: "queue", summary: "work queue", migrations: queueMigrations))
    /// ```
    public static func register(_ definition: PGStoreDefinition) {
        registered.withLock { $0[definition.name] = definition }
    }

    /// The definition of `name`: the registered one, an empty one for a known store not yet built, or
    /// nil for an unknown name.
    ///
    /// ```swift
    /// let breaker = PGStoreRegistry.definition(named: "breaker")   // no migrations yet
    /// ```
    public static func definition(named name: String) -> PGStoreDefinition? {
        if let d = registered.withLock({ $0[name] }) { return d }
        if knownNames.contains(name) {
            return PGStoreDefinition(name: name, summary: summaries[name] ?? name)
        }
        return nil
    }

    /// `all` → every known and registered store; a single name → that store.
    ///
    /// ```swift
    /// let selected = try PGStoreRegistry.stores(named: "all")
    /// ```
    /// - Throws: `.invalidConfiguration` listing the valid names when `name` is unknown.
    public static func stores(named name: String) throws(PGStoreError) -> [PGStoreDefinition] {
        if name == "all" {
            let extra = registered.withLock { $0.keys.filter { !knownNames.contains($0) }.sorted() }
            return (knownNames + extra).compactMap(definition(named:))
        }
        guard let d = definition(named: name) else {
            throw PGStoreError(code: .invalidConfiguration,
                               message: "unknown store \(PGStoreIdentifier.preview(name)); choose one of \((knownNames + ["all"]).joined(separator: ", "))")
        }
        return [d]
    }

    static let summaries = [
        "ratelimit": "distributed rate limiter (PGRateLimiter)",
        "breaker": "shared circuit breaker (PGCircuitBreaker)",
        "queue": "durable work queue with leases (PGWorkQueue)",
        "actors": "actor state store (PGActorStateStore)",
    ]
}

extension PGStoreDefinition {
    /// The support objects every store schema gets, as migrations of the store `tusk`: the clock table and
    /// the time function `tusk_now()`, and the fencing-token sequence. The migrator applies it before
    /// any other store.
    ///
    /// The time function is `clock_timestamp()` plus the shift kept in `tusk_clock` (zero unless a test
    /// or an administrator moved it with ``PGStoreClock``). It is PL/pgSQL, whose plan is cached per session:
    /// a SQL-language body with a sub-select is set up again on every call (measured with pgbench on
    /// `SELECT tusk_now()`: 14,300 calls/s as SQL, 29,000 as PL/pgSQL, 32,600 for bare `clock_timestamp()`),
    /// and every store decision calls it.
    public static let support = PGStoreDefinition(
        name: "tusk",
        summary: "support objects: migrations table, clock, fencing sequence",
        objects: [:],
        mainObject: PGStoreNames.migrationsTable,
        migrations: [
            PGStoreMigration(version: 1, "clock and fencing sequence", sql: """
                CREATE TABLE {{tusk_clock}} (
                    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                    shift interval NOT NULL DEFAULT interval '0'
                );
                INSERT INTO {{tusk_clock}} (singleton, shift) VALUES (true, interval '0');
                CREATE FUNCTION {{tusk_now}}() RETURNS timestamptz
                    LANGUAGE plpgsql VOLATILE PARALLEL SAFE
                    AS $tusk$ BEGIN RETURN clock_timestamp() + coalesce((SELECT shift FROM {{tusk_clock}}), interval '0'); END $tusk$;
                CREATE SEQUENCE {{tusk_fencing}} AS bigint;
                """)
        ],
        runtimePrivileges: [
            .table(PGStoreNames.migrationsTable, [.select]),
            .table(PGStoreNames.clockTable, [.select]),
            .function(PGStoreNames.clockFunction, signature: ""),
            .sequence(PGStoreNames.fencingSequence),
        ])

    /// A tiny store used by the package's tests and by the hidden test hook
    /// `tusk migrate apply --test-store` (two processes migrating at once). Its second migration sleeps
    /// for `pg_sleep(0.5)` so that a concurrent migrator really waits on the lock.
    public static let selfTest = PGStoreDefinition(
        name: "tusk_selftest",
        summary: "test-only store",
        objects: ["items": "selftest_items"],
        mainObject: "items",
        migrations: [
            PGStoreMigration(version: 1, "items", sql: """
                CREATE TABLE {{items}} (
                    id bigint PRIMARY KEY,
                    holder text,
                    token bigint,
                    created_at timestamptz NOT NULL DEFAULT {{tusk_now}}()
                );
                """),
            PGStoreMigration(version: 2, "items note column (slow)", sql: """
                SELECT pg_sleep(0.5);
                ALTER TABLE {{items}} ADD COLUMN note text;
                """),
        ],
        runtimePrivileges: [.table("items", [.select, .insert, .update])])
}
