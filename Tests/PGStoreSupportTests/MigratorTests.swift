import Foundation
import InMemoryTracing
import PGClient
import PGStoreSupport
import Testing
import Tracing

@Suite struct MigratorTests {
    func migrator(_ schema: String, stores: [PGStoreDefinition] = [.selfTest], tracer: (any Tracer)? = nil) throws -> PGMigrator {
        PGMigrator(schema: try PGStoreIdentifier(schema, what: "schema name"), stores: stores,
                   observability: PGStoreObservability(store: "tusk_selftest", tracer: tracer))
    }

    func rows(_ c: PGConnection, _ schema: String) async throws -> [String] {
        let table = try PGQualifiedName(schema: PGStoreIdentifier(schema), name: PGStoreIdentifier("tusk_schema_migrations"))
        var out: [String] = []
        for try await row in try await c.query(PGQuery(unsafeSQL: "SELECT store || ' ' || version FROM \(table.quoted) ORDER BY store, version")) {
            out.append(try row.decode(String.self, column: 0))
        }
        return out
    }

    func schemaExists(_ c: PGConnection, _ schema: String) async throws -> Bool {
        try await c.queryOne("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = \(schema))", as: Bool.self)
    }

    @Test func appliesOnceThenFindsNothingToDo() async throws {
        let schema = StoreTestServer.uniqueSchema()
        let m = try migrator(schema)
        try await StoreTestServer.withConnection { c in
            let first = try await m.apply(on: c)
            #expect(first.steps.map { "\($0.store) \($0.version)" } == ["tusk 1", "tusk_selftest 1", "tusk_selftest 2"])
            #expect(try await rows(c, schema) == ["tusk 1", "tusk_selftest 1", "tusk_selftest 2"])
            let second = try await m.apply(on: c)
            #expect(second.isEmpty)
            #expect(second.steps.isEmpty)
            #expect(try await rows(c, schema) == ["tusk 1", "tusk_selftest 1", "tusk_selftest 2"])
            let status = try await m.status(on: c)
            #expect(status.map(\.store) == ["tusk", "tusk_selftest"])
            #expect(status.allSatisfy { $0.isCurrent })
            #expect(status[1].applied == [1, 2])
            // The migrated table exists with the column of migration 2.
            _ = try await c.execute(PGQuery(unsafeSQL: "INSERT INTO \(PGStoreIdentifier(schema).quoted).selftest_items (id, note) VALUES (1, 'x')"))
        }
    }

    @Test func planReturnsTheExactSQLWithoutRunningIt() async throws {
        let schema = StoreTestServer.uniqueSchema()
        let m = try migrator(schema)
        try await StoreTestServer.withConnection { c in
            let plan = try await m.plan(on: c)
            #expect(try await !schemaExists(c, schema), "plan must not create anything")
            #expect(plan.statements.first == "SELECT pg_advisory_xact_lock(\(m.lockKey))")
            #expect(plan.statements[1] == "CREATE SCHEMA IF NOT EXISTS \(try PGStoreIdentifier(schema).quoted)")
            #expect(plan.sql.contains("ALTER TABLE \"\(schema)\".\"selftest_items\" ADD COLUMN note text;"))
            #expect(plan.sql.contains("INSERT INTO \"\(schema)\".\"tusk_schema_migrations\" (store, version, title, checksum) VALUES (E'tusk_selftest', 2, "))
            let ran = try await m.apply(on: c)
            #expect(ran.statements == plan.statements, "apply runs exactly what plan printed")
            let after = try await m.plan(on: c)
            #expect(after.isEmpty)
            #expect(after.sql.contains("up to date: nothing to apply"))
        }
    }

    @Test func editedMigrationIsRefused() async throws {
        let schema = StoreTestServer.uniqueSchema()
        try await StoreTestServer.withConnection { c in
            try await migrator(schema).apply(on: c)
            var edited = PGStoreDefinition.selfTest
            edited.migrations[1] = PGStoreMigration(version: 2, edited.migrations[1].title, sql: "ALTER TABLE {{items}} ADD COLUMN note2 text;")
            edited.migrations.append(PGStoreMigration(version: 3, "more", sql: "ALTER TABLE {{items}} ADD COLUMN more text;"))
            let m = try migrator(schema, stores: [edited])
            let error = await #expect(throws: PGStoreError.self) { try await m.apply(on: c) }
            #expect(error?.code == .checksumMismatch)
            #expect(error?.store == "tusk_selftest")
            #expect(error?.message.contains("migration 2 (items note column (slow)) was changed after it was applied to schema \"\(schema)\"") == true)
            // Nothing ran: version 3 was not applied either.
            #expect(try await rows(c, schema).count == 3)
            let verify = await #expect(throws: PGStoreError.self) { try await m.verify(on: c) }
            #expect(verify?.code == .checksumMismatch)
            let status = try await m.status(on: c)
            #expect(status[1].mismatched == [2])
            #expect(status[1].pending == [3])
        }
    }

    @Test func oddSchemaNameWorksEverywhere() async throws {
        let schema = "My \"odd\" schema \(UInt16.random(in: 0...UInt16.max))"
        let m = try migrator(schema)
        try await StoreTestServer.withConnection { c in
            try await m.apply(on: c)
            try await m.verify(on: c)
            let table = try m.names(for: .selfTest).qualified("items")
            _ = try await c.execute(PGQuery(unsafeSQL: "INSERT INTO \(table.quoted) (id) VALUES (1)"))
            let clock = PGStoreClock(schema: m.schema)
            _ = try await clock.now(on: c)
            let token = try await PGStoreFencing(schema: m.schema).nextToken(on: c)
            #expect(token.rawValue >= 1)
            #expect(try await c.queryOne("SELECT count(*) FROM pg_namespace WHERE nspname = \(schema)", as: Int64.self) == 1)
        }
    }

    @Test func autoCreateOffNamesTheTableAndTheCommand() async throws {
        let schema = StoreTestServer.uniqueSchema()
        let m = try migrator(schema)
        try await StoreTestServer.withConnection { c in
            let missing = await #expect(throws: PGStoreError.self) { try await m.prepare(autoCreate: false, on: c) }
            #expect(missing?.code == .schemaMissing)
            #expect(missing?.message == "schema \"\(schema)\" does not exist, so the table \"\(schema)\".\"selftest_items\" is missing; "
                    + "create it with `tusk setup tusk_selftest --schema \(schema)` (as a role that may create it) or turn autoCreate on")
            #expect(try await !schemaExists(c, schema))
            // Only version 1 applied: outdated.
            var old = PGStoreDefinition.selfTest
            old.migrations.removeLast()
            try await migrator(schema, stores: [old]).apply(on: c)
            let outdated = await #expect(throws: PGStoreError.self) { try await m.prepare(autoCreate: false, on: c) }
            #expect(outdated?.code == .schemaOutdated)
            #expect(outdated?.message.contains("is at version 1 of 2") == true)
            #expect(outdated?.message.contains("`tusk setup tusk_selftest --schema \(schema)`") == true)
            // autoCreate on: migrates itself, after which off is satisfied.
            try await m.prepare(autoCreate: true, on: c)
            try await m.prepare(autoCreate: false, on: c)
        }
    }

    @Test func clockMovesWithoutSleeping() async throws {
        let schema = StoreTestServer.uniqueSchema()
        let m = try migrator(schema)
        try await StoreTestServer.withConnection { c in
            try await m.apply(on: c)
            let clock = PGStoreClock(schema: m.schema)
            let before = try await clock.now(on: c)
            try await clock.advance(by: .seconds(3600), on: c)
            let after = try await clock.now(on: c)
            #expect(after.timeIntervalSince(before) >= 3600)
            #expect(after.timeIntervalSince(before) < 3660)
            #expect(try await clock.shift(on: c) == .seconds(3600))
            // Store SQL reads the same clock.
            let viaSQL = try await c.queryOne(PGQuery(unsafeSQL: "SELECT \(clock.sqlNow)"), as: Date.self)
            #expect(viaSQL.timeIntervalSince(before) >= 3600)
            try await clock.reset(on: c)
            #expect(try await clock.shift(on: c) == .zero)
            #expect(try await clock.now(on: c).timeIntervalSince(before) < 60)
        }
    }

    @Test func fencingTokensIncrease() async throws {
        let schema = StoreTestServer.uniqueSchema()
        let m = try migrator(schema)
        try await StoreTestServer.withConnection { c in
            try await m.apply(on: c)
            let fencing = PGStoreFencing(schema: m.schema)
            let a = try await fencing.nextToken(on: c)
            let batch = try await fencing.nextTokens(3, on: c)
            #expect(batch.count == 3)
            #expect(batch.allSatisfy { $0 > a })
            #expect(Set(batch).count == 3)
            let inSQL = try await c.queryOne(PGQuery(unsafeSQL: "SELECT \(fencing.sqlNextToken)"), as: Int64.self)
            #expect(inSQL > batch.last!.rawValue)
        }
    }

    @Test func spansPerOperationGoToTheTracer() async throws {
        let tracer = InMemoryTracer()
        let schema = StoreTestServer.uniqueSchema()
        let m = try migrator(schema, tracer: tracer)
        try await StoreTestServer.withConnection { c in
            _ = try await m.plan(on: c)
            try await m.apply(on: c)
            _ = try await m.status(on: c)
        }
        let spans = tracer.finishedSpans
        #expect(spans.map(\.operationName) == [
            "tusk.tusk_selftest.migrate.plan", "tusk.tusk_selftest.migrate.apply", "tusk.tusk_selftest.migrate.status",
        ])
        let apply = try #require(spans.first { $0.operationName.hasSuffix("apply") })
        #expect(apply.attributes["tusk.store"]?.toSpanAttribute() == "tusk_selftest".toSpanAttribute())
        #expect(apply.attributes["tusk.schema"]?.toSpanAttribute() == schema.toSpanAttribute())
        #expect(apply.attributes["db.system"]?.toSpanAttribute() == "postgresql".toSpanAttribute())
        #expect(apply.kind == .client)

        // A failing operation records its error and status.
        tracer.clearAll()
        let missing = try migrator(StoreTestServer.uniqueSchema(), tracer: tracer)
        try await StoreTestServer.withConnection { c in
            await #expect(throws: PGStoreError.self) { try await missing.verify(on: c) }
        }
        let failed = try #require(tracer.finishedSpans.first)
        #expect(failed.operationName == "tusk.tusk_selftest.migrate.verify")
        #expect(failed.status?.code == .error)
        #expect(failed.errors.count == 1)
        #expect(failed.attributes["tusk.error.code"]?.toSpanAttribute() == "schemaMissing".toSpanAttribute())
    }

    @Test func noTracerInstalledStillRuns() async throws {
        let o = PGStoreObservability(store: "queue")
        #expect(o.loggerLabel == "tusk.queue")
        #expect(o.metricName("leased_total") == "tusk_queue_leased_total")
        #expect(o.spanName("lease") == "tusk.queue.lease")
        let value = try await o.span("noop") { () async throws(PGStoreError) in 42 }
        #expect(value == 42)
    }

    @Test func databaseOwnsOnlyThePoolItOpened() async throws {
        let url = try await StoreTestServer.ownerURL()
        let owned = try PGStoreDatabase(.url(url))
        #expect(owned.ownsConnections)
        #expect(try await owned.write { c in try await c.queryOne("SELECT 1::int8", as: Int64.self) } == 1)
        // A store's start on a database: off fails typed, on migrates, then off passes.
        let m = try migrator(StoreTestServer.uniqueSchema())
        let missing = await #expect(throws: PGStoreError.self) { try await m.prepare(autoCreate: false, on: owned) }
        #expect(missing?.code == .schemaMissing)
        try await m.prepare(autoCreate: true, on: owned)
        try await m.prepare(autoCreate: false, on: owned)
        #expect(try await m.apply(on: owned).isEmpty)
        await owned.shutdown()

        let appPool = PGPool(configuration: try PGConnectionConfiguration(url))
        let shared = try PGStoreDatabase(.pool(appPool))
        #expect(!shared.ownsConnections)
        #expect(try await shared.read { c in try await c.queryOne("SELECT 2::int8", as: Int64.self) } == 2)
        await shared.shutdown()
        // The app's pool still works: the store did not close it.
        #expect(try await appPool.withConnection { c in try await c.queryOne("SELECT 3::int8", as: Int64.self) } == 3)
        await appPool.shutdown()

        let env = try PGStoreDatabase.configurationFromEnvironment(["PGHOST": "db.example", "PGUSER": "app", "PGDATABASE": "orders"])
        #expect(env.user == "app")
        #expect(env.database == "orders")
        let bad = #expect(throws: PGStoreError.self) { try PGStoreDatabase(.url("postgres://a@h:notaport/db")) }
        #expect(bad?.code == .invalidConfiguration)
    }
}
