import Logging
import PGClient
import PGCrypto
import Tracing

/// Applies stores' migrations to one schema: in ONE transaction, under `pg_advisory_xact_lock` (a key
/// derived from the schema name), recording each in `<schema>.tusk_schema_migrations`.
///
/// Idempotent: a second run (or a second process that waited on the lock) finds nothing to do. An
/// applied migration whose checksum changed is refused with `.checksumMismatch`, before anything runs.
/// ``plan(on:)`` returns the exact statements without running them. The support objects (clock, time
/// function, fencing sequence; ``PGStoreDefinition/support``) are always part of the plan.
///
/// ```swift
/// let migrator = PGMigrator(schema: try PGStoreIdentifier("tusk", what: "schema name"), stores: [queue])
/// let applied = try await migrator.apply(on: connection)
/// print(applied.steps.count, "migrations applied")
/// ```
///
/// The migrations table:
/// ```sql
/// CREATE TABLE IF NOT EXISTS "<schema>"."tusk_schema_migrations" (
///     store text NOT NULL, version integer NOT NULL, title text NOT NULL, checksum text NOT NULL,
///     applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
///     applied_by text NOT NULL DEFAULT current_user,
///     PRIMARY KEY (store, version));
/// ```
public struct PGMigrator: Sendable {
    /// The schema all the stores live in.
    public let schema: PGStoreIdentifier
    /// The stores, without the support store (which is always applied first).
    public let stores: [PGStoreDefinition]
    /// Per store: logical key → object name, replacing the defaults.
    public let overrides: [String: [String: String]]
    /// Logger, metrics and span names.
    public var observability: PGStoreObservability

    /// Creates a migrator.
    ///
    /// ```swift
    /// let migrator = PGMigrator(schema: schema, stores: try PGStoreRegistry.stores(named: "all"))
    /// ```
    public init(schema: PGStoreIdentifier, stores: [PGStoreDefinition], overrides: [String: [String: String]] = [:],
                observability: PGStoreObservability? = nil) {
        self.schema = schema
        self.stores = stores.filter { $0.name != PGStoreDefinition.support.name }
        self.overrides = overrides
        self.observability = observability ?? PGStoreObservability(store: stores.count == 1 ? stores[0].name : "migrate")
    }

    /// The support store followed by ``stores``.
    var allStores: [PGStoreDefinition] { [.support] + stores }

    /// The store's names in this migrator's schema.
    ///
    /// ```swift
    /// let table = try migrator.names(for: queue).qualified("items")
    /// ```
    public func names(for store: PGStoreDefinition) throws(PGStoreError) -> PGStoreNames {
        try store.names(schema: schema, overrides: overrides[store.name] ?? [:])
    }

    /// The advisory lock key: the first 8 bytes of SHA-256("tusk.migrate:" + schema name), big-endian.
    public var lockKey: Int64 { Self.lockKey(schema: schema) }

    static func lockKey(schema: PGStoreIdentifier) -> Int64 {
        let digest = (try? PGDigest.sha256(Array(("tusk.migrate:" + schema.name).utf8))) ?? Array(repeating: 0, count: 8)
        var value: UInt64 = 0
        for byte in digest.prefix(8) { value = value << 8 | UInt64(byte) }
        return Int64(bitPattern: value)
    }

    /// The DDL of the migrations table.
    var migrationsTableDDL: String {
        let table = PGQualifiedName(schema: schema, name: Self.fixed(PGStoreNames.migrationsTable)).quoted
        return """
            CREATE TABLE IF NOT EXISTS \(table) (
                store text NOT NULL,
                version integer NOT NULL,
                title text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                applied_by text NOT NULL DEFAULT current_user,
                PRIMARY KEY (store, version)
            )
            """
    }

    static func fixed(_ name: String) -> PGStoreIdentifier {
        // The support names are constants well inside the limits; validation cannot fail for them.
        (try? PGStoreIdentifier(name)) ?? PGStoreIdentifier(constant: "tusk_invalid_name")
    }

    // MARK: Plan

    /// The plan for a known state, without touching a database (`state: .empty` plans everything).
    ///
    /// ```swift
    /// print(try migrator.plan(state: .empty).sql)
    /// ```
    /// - Throws: `.checksumMismatch` when an applied migration was edited; `.invalidConfiguration` for a bad
    ///   store definition or object name.
    public func plan(state: PGMigrationState) throws(PGStoreError) -> PGMigrationPlan {
        var preamble = ["SELECT pg_advisory_xact_lock(\(lockKey))"]
        if !state.schemaExists { preamble.append("CREATE SCHEMA IF NOT EXISTS \(schema.quoted)") }
        if !state.migrationsTableExists { preamble.append(migrationsTableDDL) }
        let migrationsTable = PGQualifiedName(schema: schema, name: Self.fixed(PGStoreNames.migrationsTable)).quoted
        var sections: [PGMigrationPlan.Section] = []
        for store in allStores {
            try store.validate()
            let names = try names(for: store)
            let recorded = Dictionary(state.applied.filter { $0.store == store.name }.map { ($0.version, $0.checksum) },
                                      uniquingKeysWith: { a, _ in a })
            var steps: [PGMigrationPlan.Step] = []
            for migration in store.migrations {
                if let checksum = recorded[migration.version] {
                    guard checksum == migration.checksum, !checksum.isEmpty else {
                        throw PGStoreError(
                            code: .checksumMismatch,
                            message: "migration \(migration.version) (\(migration.title)) was changed after it was applied to schema "
                                + "\(schema.quoted): recorded sha256 \(checksum.prefix(12)), the code has \(migration.checksum.prefix(12)); "
                                + "restore the original migration and put the change in a new version",
                            store: store.name)
                    }
                    continue
                }
                let record = "INSERT INTO \(migrationsTable) (store, version, title, checksum) VALUES ("
                    + "\(Self.literal(store.name)), \(migration.version), \(Self.literal(migration.title)), \(Self.literal(migration.checksum)))"
                steps.append(PGMigrationPlan.Step(
                    store: store.name, version: migration.version, title: migration.title, checksum: migration.checksum,
                    sql: try names.render(migration.template), record: record))
            }
            sections.append(PGMigrationPlan.Section(store: store.name, summary: store.summary,
                                                    declared: store.migrations.count, steps: steps))
        }
        return PGMigrationPlan(schema: schema, lockKey: lockKey, preamble: preamble, sections: sections)
    }

    /// Reads the schema's state and plans against it, running nothing.
    ///
    /// ```swift
    /// print(try await migrator.plan(on: connection).sql)
    /// ```
    public func plan(on connection: PGConnection) async throws(PGStoreError) -> PGMigrationPlan {
        try await observability.span("migrate.plan", schema: schema) { () async throws(PGStoreError) in
            let state = try await readState(on: connection)
            return try plan(state: state)
        }
    }

    // MARK: Apply

    /// Applies every pending migration in one transaction under the schema's advisory lock and returns
    /// the plan it ran (empty when another process had already applied everything).
    ///
    /// ```swift
    /// let ran = try await migrator.apply(on: connection)
    /// if ran.isEmpty { print("up to date") }
    /// ```
    /// - Throws: `.permissionDenied` naming the missing CREATE privilege, `.checksumMismatch`, or a
    ///   mapped server/connection error. Nothing is changed when it throws.
    @discardableResult
    public func apply(on connection: PGConnection) async throws(PGStoreError) -> PGMigrationPlan {
        try await observability.span("migrate.apply", schema: schema) { () async throws(PGStoreError) in
            try await storeCall(nil) {
                try await connection.withTransaction { c in
                    let lock = "SELECT pg_advisory_xact_lock(\(lockKey))"
                    _ = try await c.simpleQuery(lock)
                    let state = try await readState(on: c)
                    let plan = try plan(state: state)
                    if plan.isEmpty { return plan }
                    try await checkCreatePrivilege(on: c, schemaExists: state.schemaExists)
                    for statement in plan.statements.dropFirst() {
                        _ = try await c.simpleQuery(statement)
                    }
                    observability.logger.info("applied migrations", metadata: [
                        "tusk.schema": "\(schema.quoted)", "tusk.migrations": "\(plan.steps.count)",
                    ])
                    return plan
                }
            }
        }
    }

    /// Throws `.permissionDenied` naming the GRANT that is missing when the connected role could not
    /// apply the pending migrations (CREATE on the database for a missing schema, CREATE on the schema
    /// otherwise). `tusk setup` calls it before asking for confirmation; ``apply(on:)`` checks again
    /// under the lock.
    ///
    /// ```swift
    /// try await migrator.checkPrivileges(on: connection)
    /// ```
    public func checkPrivileges(on connection: PGConnection) async throws(PGStoreError) {
        let state = try await readState(on: connection)
        guard !(try plan(state: state)).isEmpty else { return }
        try await storeCall(nil) { try await checkCreatePrivilege(on: connection, schemaExists: state.schemaExists) }
    }

    /// Throws `.permissionDenied` naming the GRANT that is missing, before any DDL runs.
    func checkCreatePrivilege(on c: PGConnection, schemaExists: Bool) async throws {
        let row = try await c.queryOne("""
            SELECT current_user::text, current_database()::text,
                   has_database_privilege(current_database(), 'CREATE'),
                   coalesce((SELECT has_schema_privilege(oid, 'CREATE') FROM pg_catalog.pg_namespace WHERE nspname = \(schema.name)), false)
            """)
        let (user, database, canCreateSchema, canCreateInSchema) = try row.decode((String, String, Bool, Bool).self)
        let role = PGIdentifier.quote(user)
        let db = PGIdentifier.quote(database)
        if !schemaExists && !canCreateSchema {
            throw PGStoreError(
                code: .permissionDenied,
                message: "role \(role) may not create schema \(schema.quoted): it lacks CREATE on database \(db); "
                    + "as the database owner run `GRANT CREATE ON DATABASE \(db) TO \(role);` or run setup as a role that has it")
        }
        if schemaExists && !canCreateInSchema {
            throw PGStoreError(
                code: .permissionDenied,
                message: "role \(role) may not create tables in schema \(schema.quoted): it lacks CREATE on the schema; "
                    + "as its owner run `GRANT CREATE ON SCHEMA \(schema.quoted) TO \(role);` or run setup as the schema's owner")
        }
    }

    /// Reads whether the schema and the migrations table exist, and the recorded migrations.
    public func readState(on connection: PGConnection) async throws(PGStoreError) -> PGMigrationState {
        try await storeCall(nil) {
            let table = PGQualifiedName(schema: schema, name: Self.fixed(PGStoreNames.migrationsTable)).quoted
            let row = try await connection.queryOne("""
                SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = \(schema.name)),
                       pg_catalog.to_regclass(\(table)) IS NOT NULL
                """)
            let (schemaExists, tableExists) = try row.decode((Bool, Bool).self)
            var applied: [PGAppliedMigration] = []
            if tableExists {
                let names = allStores.map(\.name)
                let query = PGQuery(unsafeSQL: "SELECT store, version::int8, checksum FROM \(table) WHERE store = ANY($1) ORDER BY store, version", [names])
                for try await r in try await connection.query(query) {
                    let (store, version, checksum) = try r.decode((String, Int64, String).self)
                    applied.append(PGAppliedMigration(store: store, version: Int(version), checksum: checksum))
                }
            }
            return PGMigrationState(schemaExists: schemaExists, migrationsTableExists: tableExists, applied: applied)
        }
    }

    /// A SQL string literal for constants from code (store names, titles, hex checksums): `E'…'` with
    /// quotes and backslashes escaped, independent of `standard_conforming_strings`.
    static func literal(_ text: String) -> String {
        var out = "E'"
        for scalar in text.unicodeScalars where scalar != "\0" {
            switch scalar {
            case "'": out += "''"
            case "\\": out += "\\\\"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "'"
    }
}

/// Runs `body`, translating whatever it throws into a ``PGStoreError``.
func storeCall<T>(_ store: String?, _ body: () async throws -> T) async throws(PGStoreError) -> T {
    do {
        return try await body()
    } catch {
        throw PGStoreError.from(error, store: store)
    }
}
