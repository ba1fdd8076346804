import ArgumentParser
import Foundation
import PGClient
import PGActorStateStore
import PGCircuitBreaker
import PGRateLimiter
import PGStoreSupport
import PGWorkQueue

/// Options every store command shares.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The schema holding the stores' tables (1 to 63 bytes, no NUL).", valueName: "schema"))
    var schema: String = StoreOptions.defaultSchema

    static let defaultSchema = "tusk"

    /// True when --schema was given (not the default).
    var schemaWasGiven: Bool { schema != Self.defaultSchema }

    @Option(help: ArgumentHelp(
        "postgres:// URL or keyword/value string; default DATABASE_URL, else PGHOST, PGPORT, PGUSER, PGDATABASE (PGPASSWORD and ~/.pgpass supply the password).",
        valueName: "url"))
    var url: String?

    @Flag(help: .hidden)
    var testStore = false

    /// The validated schema.
    func validatedSchema() throws(PGStoreError) -> PGStoreIdentifier {
        try PGStoreIdentifier(schema, what: "schema name")
    }

    /// The selected stores, plus the test store with the hidden `--test-store` flag (a test hook: the
    /// package's tests run two `tusk migrate apply --test-store` processes at once).
    func stores(_ name: String) throws(PGStoreError) -> [PGStoreDefinition] {
        registerStores()
        if testStore && name == PGStoreDefinition.selfTest.name { return [.selfTest] }
        return try PGStoreRegistry.stores(named: name) + (testStore ? [.selfTest] : [])
    }

    func configuration() throws(PGStoreError) -> PGConnectionConfiguration {
        let environment = ProcessInfo.processInfo.environment
        var config: PGConnectionConfiguration
        if let url {
            do {
                config = try PGConnectionConfiguration(url, environment: environment)
            } catch {
                throw PGStoreError(code: .invalidConfiguration, message: "invalid --url: \(error.message)")
            }
        } else {
            config = try PGStoreDatabase.configurationFromEnvironment(environment)
        }
        if config.applicationName == nil { config.applicationName = "tusk" }
        return config
    }

    /// Connects, mapping failures to one-line store errors.
    func connect() async throws(PGStoreError) -> (PGConnection, PGConnectionConfiguration) {
        let config = try configuration()
        do {
            return (try await PGConnection.connect(config), config)
        } catch {
            throw PGStoreError.from(error)
        }
    }
}

/// "database tusk on 127.0.0.1:5432 as app" (never the password).
func describe(_ config: PGConnectionConfiguration) -> String {
    "database \(config.database) on \(config.hosts.first.map { "\($0)" } ?? "?") as \(config.user)"
}

/// Runs a store command body: one line on stderr and exit 1 for any error.
func runStoreTool(_ body: () async throws -> Void) async throws {
    _ = CLILogging.bootstrapped
    do {
        try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        throw fail(PGStoreError.from(error).message)
    }
}

struct SetupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup",
        abstract: "Create or upgrade a store's tables in a schema.",
        discussion: """
            Applies the pending migrations of STORE (ratelimit, breaker, queue, actors, or all) to SCHEMA \
            in one transaction, under an advisory lock derived from the schema name, so two setups at \
            once are safe: one applies, the other finds nothing to do. Every schema also gets the support \
            objects the stores share: tusk_schema_migrations, the clock tusk_now() and the fencing \
            sequence tusk_fencing.

            Without --yes, setup shows what it will do and asks for confirmation on standard input. \
            --dry-run prints the exact SQL instead (BEGIN … COMMIT, one section per store) and changes \
            nothing; --offline prints it without connecting, as for an empty database.

            Run setup as a role that may create the schema (CREATE on the database) or, when the schema \
            exists, that may create in it; the service itself then needs only the privileges \
            `tusk grants STORE --role ROLE` prints. Stores whose module has no migrations yet print an \
            empty section.

            Examples:
              tusk setup all --dry-run
              tusk setup queue --schema jobs --yes --url postgres://admin@db/app
            """)

    @Argument(help: ArgumentHelp("ratelimit, breaker, queue, actors, or all.", valueName: "store"))
    var store: String

    @Flag(help: "Print the SQL that would run; change nothing.")
    var dryRun = false

    @Flag(help: "Print the SQL for an empty database without connecting (implies --dry-run).")
    var offline = false

    @Flag(name: [.short, .long], help: "Do not ask for confirmation.")
    var yes = false

    @OptionGroup var options: StoreOptions

    func run() async throws {
        try await runStoreTool {
            let schema = try options.validatedSchema()
            let migrator = PGMigrator(schema: schema, stores: try options.stores(store))
            if offline {
                print(try migrator.plan(state: .empty).sql, terminator: "")
                return
            }
            let (connection, config) = try await options.connect()
            do {
                try await setUp(migrator, schema: schema, on: connection, config: config)
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
        }
    }

    func setUp(_ migrator: PGMigrator, schema: PGStoreIdentifier, on connection: PGConnection,
               config: PGConnectionConfiguration) async throws {
        let plan = try await migrator.plan(on: connection)
        if dryRun {
            print(plan.sql, terminator: "")
            return
        }
        if plan.isEmpty {
            print("schema \(schema.quoted) in \(describe(config)) is up to date; nothing to apply")
            printSections(plan)
            return
        }
        // Refuse before asking when this role could not apply the plan anyway.
        try await migrator.checkPrivileges(on: connection)
        print("About to apply to schema \(schema.quoted) in \(describe(config)):")
        if !plan.preamble.dropFirst().isEmpty { print("  create the schema and/or tusk_schema_migrations (IF NOT EXISTS)") }
        for step in plan.steps { print("  \(step.store) \(step.version): \(step.title)") }
        if !yes {
            print("Proceed? [y/N] ", terminator: "")
            let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            guard answer == "y" || answer == "yes" else {
                throw fail("aborted; nothing was changed (pass --yes to skip this question)")
            }
        }
        let ran = try await migrator.apply(on: connection)
        if ran.steps.isEmpty {
            print("nothing to do: schema \(schema.quoted) was brought up to date by another process")
        } else {
            print("applied \(ran.steps.count) migration(s) to schema \(schema.quoted):")
            for step in ran.steps { print("  \(step.store) \(step.version): \(step.title)") }
        }
        printSections(ran)
    }

    func printSections(_ plan: PGMigrationPlan) {
        for section in plan.sections where section.declared == 0 {
            print("  \(section.store): no migrations yet")
        }
    }
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Inspect or apply the stores' migrations.",
        discussion: "`tusk migrate status` lists applied and pending migrations per store; `tusk migrate apply` applies them without asking.",
        subcommands: [MigrateStatusCommand.self, MigrateApplyCommand.self],
        defaultSubcommand: MigrateStatusCommand.self)
}

struct MigrateStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show applied, pending and changed migrations per store.",
        discussion: """
            Reads <schema>.tusk_schema_migrations and compares it with the migrations this tusk knows. \
            Exits with status 0 even when migrations are pending; a changed (edited after it ran) \
            migration is listed as "changed".
            """)

    @Argument(help: ArgumentHelp("ratelimit, breaker, queue, actors, or all.", valueName: "store"))
    var store: String = "all"

    @OptionGroup var options: StoreOptions

    func run() async throws {
        try await runStoreTool {
            let schema = try options.validatedSchema()
            let migrator = PGMigrator(schema: schema, stores: try options.stores(store))
            let (connection, config) = try await options.connect()
            let state = try await migrator.readState(on: connection)
            await connection.close()
            print("schema \(schema.quoted) in \(describe(config))\(state.schemaExists ? "" : " (does not exist)")")
            for s in migrator.status(state: state) {
                var line = "  " + s.store.padding(toLength: 14, withPad: " ", startingAt: 0)
                if s.declared == 0 {
                    line += "no migrations yet"
                } else {
                    line += "\(s.applied.count) applied, \(s.pending.count) pending"
                    if !s.pending.isEmpty { line += " (\(s.pending.map(String.init).joined(separator: ", ")))" }
                    if !s.mismatched.isEmpty { line += ", changed: \(s.mismatched.map(String.init).joined(separator: ", "))" }
                    if !s.unknown.isEmpty { line += ", unknown to this tusk: \(s.unknown.map(String.init).joined(separator: ", "))" }
                }
                print(line)
            }
        }
    }
}

struct MigrateApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply pending migrations without asking (as `tusk setup STORE --yes`).",
        discussion: """
            Prints "applied N migration(s)" or "nothing to do". Safe to run from several processes at \
            once: they serialise on the schema's advisory lock.
            """)

    @Argument(help: ArgumentHelp("ratelimit, breaker, queue, actors, or all.", valueName: "store"))
    var store: String = "all"

    @OptionGroup var options: StoreOptions

    func run() async throws {
        try await runStoreTool {
            let schema = try options.validatedSchema()
            let migrator = PGMigrator(schema: schema, stores: try options.stores(store))
            let (connection, _) = try await options.connect()
            let ran = try await migrator.apply(on: connection)
            await connection.close()
            if ran.steps.isEmpty {
                print("nothing to do: schema \(schema.quoted) is up to date")
            } else {
                print("applied \(ran.steps.count) migration(s) to schema \(schema.quoted): "
                      + ran.steps.map { "\($0.store) \($0.version)" }.joined(separator: ", "))
            }
        }
    }
}

struct GrantsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grants",
        abstract: "Print the least-privilege GRANTs a store's runtime role needs.",
        discussion: """
            Prints GRANT statements for ROLE: USAGE on the schema and exactly the table, sequence and \
            function privileges the store's statements use, plus the shared support objects (SELECT on \
            tusk_schema_migrations and tusk_clock, EXECUTE on tusk_now(), USAGE on tusk_fencing). No \
            DDL right is granted. Apply them as the schema's owner after `tusk setup`, e.g.

              tusk grants queue --role app | psql "$DATABASE_URL"

            Does not connect to the database.
            """)

    @Argument(help: ArgumentHelp("ratelimit, breaker, queue, actors, or all.", valueName: "store"))
    var store: String

    @Option(help: ArgumentHelp("The runtime role to grant to.", valueName: "role"))
    var role: String

    @OptionGroup var options: StoreOptions

    func run() async throws {
        try await runStoreTool {
            let schema = try options.validatedSchema()
            let role = try PGStoreIdentifier(self.role, what: "role name")
            let stores = try options.stores(store)
            print("-- least-privilege grants for role \(role.quoted) in schema \(schema.quoted); run as the owner after `tusk setup`")
            print("\n-- tusk (support objects)")
            print(try PGStoreGrants.script(for: .support, names: try PGStoreDefinition.support.names(schema: schema), role: role),
                  terminator: "")
            for store in stores {
                if store.migrations.isEmpty {
                    print("\n-- \(store.name): no migrations yet, nothing to grant")
                    continue
                }
                print("\n-- \(store.name)")
                // The schema USAGE and support grants were printed once above.
                for statement in try PGStoreGrants.statements(
                    for: store, names: try store.names(schema: schema), role: role, includeSupport: false) {
                    print(statement + ";")
                }
            }
        }
    }
}

/// The stores built so far register their definitions (migrations, grants) with the registry.
func registerStores() {
    PGStoreRegistry.register(PGRateLimiterSchema.definition)
    PGStoreRegistry.register(PGBreakerSchema.definition)
    PGStoreRegistry.register(PGWorkQueueSchema.definition)
    PGStoreRegistry.register(PGActorStateSchema.definition)
}
