/// What a schema holds now, as far as the migrator is concerned.
///
/// ```swift
/// let offline = PGMigrator(schema: schema, stores: stores).plan(state: .empty)   // everything pending
/// ```
public struct PGMigrationState: Sendable, Hashable {
    /// The schema exists.
    public var schemaExists: Bool
    /// `<schema>.tusk_schema_migrations` exists.
    public var migrationsTableExists: Bool
    /// The recorded migrations.
    public var applied: [PGAppliedMigration]

    /// Creates a state.
    public init(schemaExists: Bool, migrationsTableExists: Bool, applied: [PGAppliedMigration]) {
        self.schemaExists = schemaExists
        self.migrationsTableExists = migrationsTableExists
        self.applied = applied
    }

    /// Nothing exists yet (what `--offline` plans against).
    public static let empty = PGMigrationState(schemaExists: false, migrationsTableExists: false, applied: [])
}

/// One row of `tusk_schema_migrations`.
public struct PGAppliedMigration: Sendable, Hashable {
    /// The store (`tusk` for the support objects).
    public var store: String
    /// The migration's version.
    public var version: Int
    /// The checksum recorded when it ran.
    public var checksum: String

    /// Creates a record.
    public init(store: String, version: Int, checksum: String) {
        self.store = store
        self.version = version
        self.checksum = checksum
    }
}

/// The exact SQL the migrator would run, and what it would record: the statements of ``apply`` in
/// order, so `--dry-run` prints what a real run executes.
///
/// ```swift
/// let plan = try await migrator.plan(on: connection)
/// print(plan.sql)   // BEGIN; SELECT pg_advisory_xact_lock(…); … COMMIT;
/// ```
public struct PGMigrationPlan: Sendable {
    /// One pending migration.
    public struct Step: Sendable, Hashable {
        /// The store.
        public var store: String
        /// The migration's version.
        public var version: Int
        /// Its title.
        public var title: String
        /// Its checksum (SHA-256 of the template).
        public var checksum: String
        /// The rendered SQL.
        public var sql: String
        /// The INSERT that records it in `tusk_schema_migrations`.
        public var record: String
    }

    /// A store's part of the plan (empty for a store without pending migrations).
    public struct Section: Sendable {
        /// The store.
        public var store: String
        /// Its summary.
        public var summary: String
        /// How many migrations the store declares.
        public var declared: Int
        /// The pending ones.
        public var steps: [Step]
    }

    /// The schema.
    public var schema: PGStoreIdentifier
    /// The advisory lock key (derived from the schema name).
    public var lockKey: Int64
    /// `SELECT pg_advisory_xact_lock(…)`, then `CREATE SCHEMA` / `CREATE TABLE … tusk_schema_migrations`
    /// when they are missing.
    public var preamble: [String]
    /// One section per store, the support store first.
    public var sections: [Section]

    /// Every pending migration, in the order they run.
    public var steps: [Step] { sections.flatMap(\.steps) }
    /// True when nothing would change.
    public var isEmpty: Bool { steps.isEmpty && preamble.count <= 1 }
    /// The statements, in the order ``PGMigrator/apply(on:)`` runs them inside one transaction.
    public var statements: [String] { preamble + steps.flatMap { [$0.sql, $0.record] } }

    /// The whole script, with a comment per store section, as `tusk setup --dry-run` prints it.
    public var sql: String {
        var out = "-- schema \(schema.quoted)\n"
        if isEmpty {
            out += "-- up to date: nothing to apply\n"
            for section in sections { out += "-- \(section.store): \(section.declared) migration(s), all applied\n" }
            return out
        }
        out += "BEGIN;\n"
        for statement in preamble { out += statement + ";\n" }
        for section in sections {
            out += "\n-- \(section.store) (\(section.summary))"
            if section.declared == 0 {
                out += ": no migrations yet\n"
                continue
            }
            if section.steps.isEmpty {
                out += ": up to date (\(section.declared) applied)\n"
                continue
            }
            out += "\n"
            for step in section.steps {
                out += "-- \(step.store) \(step.version): \(step.title) (sha256 \(step.checksum.prefix(12)))\n"
                out += step.sql.trimmingWhitespace()
                if !step.sql.trimmingWhitespace().hasSuffix(";") { out += ";" }
                out += "\n" + step.record + ";\n"
            }
        }
        out += "COMMIT;\n"
        return out
    }
}
