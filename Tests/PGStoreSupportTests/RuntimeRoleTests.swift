import Foundation
import PGClient
import PGStoreSupport
import Testing

/// A real role made by the test, with no CREATE anywhere, runs the store once setup (as the owner) and
/// the generated GRANTs are applied; before the grants it fails with a clear, typed error.
@Suite struct RuntimeRoleTests {
    @Test func runtimeRoleWithoutDDLWorksAfterSetupAndGrants() async throws {
        let schema = StoreTestServer.uniqueSchema()
        let migrator = PGMigrator(schema: try PGStoreIdentifier(schema), stores: [.selfTest])
        let runtime = try await StoreTestServer.createRuntimeRole()
        let role = try PGStoreIdentifier(runtime.name, what: "role name")
        let names = try migrator.names(for: .selfTest)
        let items = try names.qualified("items").quoted

        // The runtime role cannot run setup: it lacks CREATE on the database, and says which GRANT is missing.
        try await StoreTestServer.withConnection(url: runtime.url) { c in
            let denied = await #expect(throws: PGStoreError.self) { try await migrator.apply(on: c) }
            #expect(denied?.code == .permissionDenied)
            #expect(denied?.message == "role \"\(runtime.name)\" may not create schema \"\(schema)\": it lacks CREATE on database \"tusk\"; "
                    + "as the database owner run `GRANT CREATE ON DATABASE \"tusk\" TO \"\(runtime.name)\";` or run setup as a role that has it")
        }
        // Setup as the owner.
        try await StoreTestServer.withConnection { c in try await migrator.apply(on: c) }

        // Before the grants: the start check fails clearly.
        try await StoreTestServer.withConnection(url: runtime.url) { c in
            let before = await #expect(throws: PGStoreError.self) { try await migrator.prepare(autoCreate: false, on: c) }
            #expect(before?.code == .permissionDenied)
            #expect(before?.message.contains("permission denied for schema \(schema)") == true)
            #expect(before?.message.contains("`tusk grants") == true)
        }

        // Apply the generated grants as the owner.
        try await StoreTestServer.withConnection { c in
            for statement in try PGStoreGrants.statements(for: .selfTest, names: names, role: role) {
                _ = try await c.simpleQuery(statement)
            }
        }

        try await StoreTestServer.withConnection(url: runtime.url) { c in
            try await migrator.prepare(autoCreate: false, on: c)
            // What the store's statements need works.
            let token = try await PGStoreFencing(schema: names.schema).nextToken(on: c)
            let holder = PGLeaseHolder.current().description
            _ = try await c.execute(PGQuery(unsafeSQL: "INSERT INTO \(items) (id, holder, token) VALUES (1, $1, $2)", [holder, token.rawValue]))
            _ = try await c.execute(PGQuery(unsafeSQL: "UPDATE \(items) SET note = 'x' WHERE id = 1"))
            #expect(try await c.queryOne(PGQuery(unsafeSQL: "SELECT holder FROM \(items) WHERE id = 1"), as: String.self) == holder)
            _ = try await PGStoreClock(schema: names.schema).now(on: c)

            // No DDL, no DELETE (not declared), no moving the clock.
            let ddl = await #expect(throws: PGError.self) {
                try await c.simpleQuery("CREATE TABLE \(names.schema.quoted).sneaky (id int)")
            }
            #expect(ddl?.sqlState?.rawValue == "42501")
            let delete = await #expect(throws: PGError.self) { try await c.execute(PGQuery(unsafeSQL: "DELETE FROM \(items)")) }
            #expect(delete?.sqlState?.rawValue == "42501")
            let clock = await #expect(throws: PGStoreError.self) {
                try await PGStoreClock(schema: names.schema).advance(by: .seconds(1), on: c)
            }
            #expect(clock?.code == .permissionDenied)
            // And it cannot migrate: the schema exists but it may not create in it.
            var newer = PGStoreDefinition.selfTest
            newer.migrations.append(PGStoreMigration(version: 3, "x", sql: "ALTER TABLE {{items}} ADD COLUMN x int"))
            let upgrade = await #expect(throws: PGStoreError.self) {
                try await PGMigrator(schema: names.schema, stores: [newer]).apply(on: c)
            }
            #expect(upgrade?.code == .permissionDenied)
            #expect(upgrade?.message.contains("GRANT CREATE ON SCHEMA \"\(schema)\" TO \"\(runtime.name)\";") == true)
        }
    }
}
