import Foundation
import PGClient
import PGTestSupport
import Synchronization
import Testing

/// The schema-per-test helper and the ledger's checks, on the test server.
@Suite struct TestKitTests {
    @Test func eachTestSchemaIsSeparateAndDroppedAfterwards() async throws {
        let pg = try await TestDB.server()
        let a = try await PGTestSchema.create(on: pg, prefix: "Iso Lation!")
        let b = try await PGTestSchema.create(on: pg, prefix: "isolation")
        #expect(a.name != b.name)
        #expect(a.name.hasPrefix("t_iso_lation__") && a.name.utf8.count <= 63)
        #expect(a.quotedName == "\"\(a.name)\"")
        for (schema, n) in [(a, 1), (b, 2)] {
            let c = try await PGConnection.connect(try schema.configuration())
            #expect(try await c.queryOne("SELECT current_schema()", as: String.self) == schema.name)
            _ = try await c.execute("CREATE TABLE items (n int)")
            for i in 0..<n { _ = try await c.execute("INSERT INTO items VALUES (\(Int32(i)))") }
            await c.close()
        }
        let c = try await PGConnection.connect(try a.configuration())
        #expect(try await c.queryOne("SELECT count(*) FROM items", as: Int.self) == 1)
        #expect(try await c.queryOne("SELECT count(*) FROM \(identifier: "items", schema: b.name)", as: Int.self) == 2)
        await c.close()
        try await a.drop()
        try await b.drop()
        try await b.drop()  // idempotent
        let left = try await pg.psql("SELECT count(*) FROM pg_namespace WHERE nspname IN ('\(a.name)', '\(b.name)')")
        #expect(left == "0")
    }

    @Test func withDropsTheSchemaWhenTheBodyThrows() async throws {
        let pg = try await TestDB.server()
        struct Boom: Error {}
        let name = Mutex<String>("")
        await #expect(throws: Boom.self) {
            try await PGTestSchema.with(on: pg, prefix: "boom") { schema in
                name.withLock { $0 = schema.name }
                throw Boom()
            }
        }
        let dropped = name.withLock { $0 }
        #expect(!dropped.isEmpty)
        #expect(try await pg.psql("SELECT count(*) FROM pg_namespace WHERE nspname = '\(dropped)'") == "0")
    }

    /// The window and concurrency checks on entries whose times are set by hand.
    @Test func ledgerWindowAndConcurrencyChecks() async throws {
        let pg = try await TestDB.server()
        try await PGTestSchema.with(on: pg, prefix: "ledgerq") { schema in
            let ledger = PGLedger(schema: schema.name)
            let c = try await PGConnection.connect(try schema.configuration())
            try await ledger.create(on: c)
            // Key "a": admitted at 0, 0.1, 0.2, 1.5 s; key "b": at 0, 2 s.
            for (key, offsets) in [("a", [0.0, 0.1, 0.2, 1.5]), ("b", [0.0, 2.0])] {
                for offset in offsets {
                    try await ledger.record(.admitted, key: key, worker: "w", on: c)
                    _ = try await c.execute(
                        "UPDATE \(identifier: ledger.table, schema: schema.name) SET at = timestamptz '2026-01-01' + make_interval(secs => \(offset)) WHERE id = (SELECT max(id) FROM \(identifier: ledger.table, schema: schema.name))")
                }
            }
            let busiest = try await ledger.maxInWindow(.admitted, window: .seconds(1), on: c)
            #expect(busiest.map(\.key) == ["a", "b"])
            #expect(busiest.map(\.count) == [3, 1])
            #expect(try await ledger.overLimit(.admitted, window: .seconds(1), limit: 3, on: c).isEmpty)
            #expect(try await ledger.overLimit(.admitted, window: .seconds(1), limit: 2, on: c).map(\.key) == ["a"])
            #expect(try await ledger.overLimit(.admitted, window: .seconds(2), limit: 3, on: c).map(\.count) == [4])

            // Slots: acquired, acquired, released, acquired, released, released → at most 2 held at once.
            for kind in [PGLedger.Kind.acquired, .acquired, .released, .acquired, .released, .released] {
                try await ledger.record(kind, key: "slot", worker: "w", on: c)
            }
            let held = try await ledger.maxConcurrent(start: .acquired, end: .released, on: c)
            #expect(held.map(\.count) == [2])
            await c.close()
        }
    }

    @Test func ledgerRejectsNamesItCannotUse() async throws {
        let c = try await TestDB.connect()
        await #expect(throws: PGError.self) { try await PGLedger(schema: "").create(on: c) }
        await #expect(throws: PGError.self) { try await PGLedger(schema: "public", table: String(repeating: "x", count: 60)).create(on: c) }
        await c.close()
    }
}
