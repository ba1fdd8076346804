import Foundation
import PGClient
import PGStoreSupport
import Testing

@Suite struct IdentifierTests {
    @Test func emptyNameSaysSo() {
        let error = #expect(throws: PGStoreError.self) { try PGStoreIdentifier("", what: "schema name") }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message == "the schema name is empty; give a name of 1 to 63 bytes")
    }

    @Test func nulIsRefusedWithItsPosition() {
        let error = #expect(throws: PGStoreError.self) { try PGStoreIdentifier("ab\0c", what: "table name") }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("the table name contains a NUL character (at byte 2)") == true)
    }

    @Test func tooLongCountsBytesNotCharacters() throws {
        // 32 two-byte characters = 64 bytes: one byte over.
        let long = String(repeating: "é", count: 32)
        let error = #expect(throws: PGStoreError.self) { try PGStoreIdentifier(long, what: "schema name") }
        #expect(error?.message.contains("is 64 bytes long; PostgreSQL names hold at most 63 bytes") == true)
        // 63 bytes exactly is fine.
        let fits = try PGStoreIdentifier(String(repeating: "a", count: 63))
        #expect(fits.name.utf8.count == 63)
        let error70 = #expect(throws: PGStoreError.self) { try PGStoreIdentifier(String(repeating: "s", count: 70), what: "schema name") }
        #expect(error70?.message == "the schema name \"ssssssssssssssssssss…\" is 70 bytes long; PostgreSQL names hold at most 63 bytes")
    }

    @Test func oddNamesAreQuoted() throws {
        let schema = try PGStoreIdentifier("My \"odd\" schema", what: "schema name")
        #expect(schema.quoted == "\"My \"\"odd\"\" schema\"")
        let table = PGQualifiedName(schema: schema, name: try PGStoreIdentifier("Tab;le"))
        #expect(table.quoted == "\"My \"\"odd\"\" schema\".\"Tab;le\"")
    }

    @Test func templatesRenderOnlyQuotedNames() throws {
        let names = try PGStoreNames(schema: "S x", objects: ["items": "my items"])
        #expect(try names.render("SELECT * FROM {{items}} JOIN {{ schema }}.t ON true; -- {{items.name}}")
                == "SELECT * FROM \"S x\".\"my items\" JOIN \"S x\".t ON true; -- \"my items\"")
        #expect(try names.render("SELECT {{tusk_now}}()") == "SELECT \"S x\".\"tusk_now\"()")
        let unknown = #expect(throws: PGStoreError.self) { try names.render("SELECT * FROM {{nope}}") }
        #expect(unknown?.message.contains("no object named nope") == true)
        #expect(throws: PGStoreError.self) { try names.render("SELECT {{items") }
    }

    @Test func objectNamesFromConfigurationAreValidated() {
        let error = #expect(throws: PGStoreError.self) { try PGStoreNames(schema: "ok", objects: ["items": ""]) }
        #expect(error?.message == "the name of items is empty; give a name of 1 to 63 bytes")
    }

    @Test func checksumIsSHA256OfTheTemplate() {
        let m = PGStoreMigration(version: 1, "t", sql: "abc")
        #expect(m.checksum == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func setupCommandQuotesTheSchemaForTheShell() throws {
        let plain = PGMigrator(schema: try PGStoreIdentifier("jobs"), stores: [.selfTest])
        #expect(plain.setupCommand(for: "queue") == "tusk setup queue --schema jobs")
        let odd = PGMigrator(schema: try PGStoreIdentifier("it's odd"), stores: [.selfTest])
        #expect(odd.setupCommand(for: "queue") == "tusk setup queue --schema 'it'\\''s odd'")
    }

    @Test func registryHasEmptySectionsForStoresNotBuiltYet() throws {
        let all = try PGStoreRegistry.stores(named: "all")
        #expect(Array(all.map(\.name).prefix(4)) == ["ratelimit", "breaker", "queue", "actors"])
        #expect(all.prefix(4).allSatisfy { $0.migrations.isEmpty })
        let error = #expect(throws: PGStoreError.self) { try PGStoreRegistry.stores(named: "nope") }
        #expect(error?.message == "unknown store \"nope\"; choose one of ratelimit, breaker, queue, actors, all")
    }

    @Test func offlinePlanHasOneSectionPerStore() throws {
        let migrator = PGMigrator(schema: try PGStoreIdentifier("tusk"), stores: try PGStoreRegistry.stores(named: "all"))
        let plan = try migrator.plan(state: .empty)
        #expect(plan.sections.map(\.store) == ["tusk", "ratelimit", "breaker", "queue", "actors"])
        #expect(plan.sql.contains("-- queue (durable work queue with leases (PGWorkQueue)): no migrations yet"))
        #expect(plan.sql.hasPrefix("-- schema \"tusk\"\nBEGIN;\nSELECT pg_advisory_xact_lock(\(migrator.lockKey));\nCREATE SCHEMA IF NOT EXISTS \"tusk\";"))
        #expect(plan.sql.hasSuffix("COMMIT;\n"))
    }

    @Test func lockKeyDependsOnTheSchema() throws {
        let a = PGMigrator(schema: try PGStoreIdentifier("a"), stores: []).lockKey
        let b = PGMigrator(schema: try PGStoreIdentifier("b"), stores: []).lockKey
        #expect(a != b)
        #expect(a == PGMigrator(schema: try PGStoreIdentifier("a"), stores: [.selfTest]).lockKey)
    }

    @Test func grantsAreLeastPrivilegeAndQuoted() throws {
        let names = try PGStoreDefinition.selfTest.names(schema: "My \"odd\" schema")
        let role = try PGStoreIdentifier("app role", what: "role name")
        let statements = try PGStoreGrants.statements(for: .selfTest, names: names, role: role)
        #expect(statements == [
            "GRANT USAGE ON SCHEMA \"My \"\"odd\"\" schema\" TO \"app role\"",
            "GRANT SELECT ON TABLE \"My \"\"odd\"\" schema\".\"tusk_schema_migrations\" TO \"app role\"",
            "GRANT SELECT ON TABLE \"My \"\"odd\"\" schema\".\"tusk_clock\" TO \"app role\"",
            "GRANT EXECUTE ON FUNCTION \"My \"\"odd\"\" schema\".\"tusk_now\"() TO \"app role\"",
            "GRANT USAGE ON SEQUENCE \"My \"\"odd\"\" schema\".\"tusk_fencing\" TO \"app role\"",
            "GRANT SELECT, INSERT, UPDATE ON TABLE \"My \"\"odd\"\" schema\".\"selftest_items\" TO \"app role\"",
        ])
        #expect(!statements.joined().contains("CREATE"))
    }

    @Test func leaseHolderRoundTripsAndIsUnique() {
        let a = PGLeaseHolder.current(), b = PGLeaseHolder.current()
        #expect(a != b)
        #expect(a.random.count == 16)
        #expect(PGLeaseHolder(parsing: a.description) == a)
        #expect(PGLeaseHolder(parsing: "fe80::1:42:abcd") == PGLeaseHolder(host: "fe80::1", pid: 42, random: "abcd"))
        #expect(PGLeaseHolder(parsing: "nope") == nil)
    }

    @Test func staleTokenIsFenced() throws {
        let lease = PGLease(holder: .current(), token: PGFencingToken(rawValue: 7), expiresAt: .distantFuture)
        try lease.check(current: PGFencingToken(rawValue: 7), store: "queue", what: "item 1")
        let error = #expect(throws: PGStoreError.self) {
            try lease.check(current: PGFencingToken(rawValue: 8), store: "queue", what: "item 1")
        }
        #expect(error?.code == .fenced)
        #expect(error?.description == "PGStoreError.fenced: queue: the lease on item 1 (fencing token 7) expired and was handed to another holder; this holder's work on it was refused")
    }
}
