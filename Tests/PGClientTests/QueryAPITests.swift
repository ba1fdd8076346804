import Foundation
import PGClient
import PGTestSupport
import Testing

@Suite(.serialized) struct QueryAPITests {
    @Test func interpolatedValuesAreBoundNeverSpliced() async throws {
        try await TestDB.withConnection { c in
            let name = "O'Brien; DROP TABLE x; --"
            let n = 41
            let query: PGQuery = "SELECT \(n) + 1, \(name)::text, \(nil as String?)::text IS NULL"
            #expect(query.sql == "SELECT $1 + 1, $2::text, $3::text IS NULL")
            #expect(!query.description.contains("Brien"))
            let (answer, echoed, wasNull) = try await c.queryOne(query, as: (Int, String, Bool).self)
            #expect(answer == 42)
            #expect(echoed == name)
            #expect(wasNull)
        }
    }

    @Test func identifiersAreQuotedAndRawSQLIsExplicit() async throws {
        try await TestDB.withConnection { c in
            let table = "weird \"table\" name"
            try await c.execute("CREATE TEMP TABLE \(identifier: table) (v int)")
            try await c.execute("INSERT INTO \(identifier: table) VALUES (\(7)), (\(8))")
            let order = "ORDER BY v DESC"
            let rows = try await c.query("SELECT v FROM \(identifier: table) \(unescaped: order)").decode(Int.self).collect()
            #expect(rows == [8, 7])
            #expect(PGIdentifier.quote("a\"b") == "\"a\"\"b\"")
            #expect(throws: PGError.self) { try PGIdentifier.validate("") }
            #expect(throws: PGError.self) { try PGIdentifier.validate(String(repeating: "x", count: 64)) }
        }
    }

    @Test func rowsDecodeIntoTuplesAsTheyStream() async throws {
        try await TestDB.withConnection { c in
            var sum = 0
            var count = 0
            for try await (i, text) in try await c.query("SELECT i, i::text FROM generate_series(1, 1000) i").decode((Int, String).self) {
                sum += i
                #expect(String(i) == text)
                count += 1
            }
            #expect(count == 1000)
            #expect(sum == 500_500)
            // Arity mismatch names the counts.
            do {
                _ = try await c.query("SELECT 1, 2").decode((Int, Int, Int).self).collect()
                Issue.record("arity mismatch accepted")
            } catch let e as PGError {
                #expect(e.code == .decoding)
                #expect(e.message.contains("2 columns"))
            }
        }
    }

    struct User: Decodable, Equatable {
        var id: Int
        var name: String
        var createdAt: Date
        var nickname: String?
        var score: Double?
    }

    struct Renamed: Decodable, Equatable {
        var identifier: Int
        var label: String
        enum CodingKeys: String, CodingKey {
            case identifier = "id"
            case label = "name"
        }
    }

    enum Color: String, Decodable { case red, green }
    struct Painted: Decodable { var color: Color; var tags: Meta }
    struct Meta: Decodable, Equatable { var a: Int; var b: [String] }

    @Test func rowsDecodeIntoDecodableTypesByColumnName() async throws {
        try await TestDB.withConnection { c in
            // Extra column (extra), missing optional column (score), NULL (nickname), snake_case (created_at).
            let sql: PGQuery = "SELECT 1 AS id, 'ann' AS name, now() AS created_at, NULL::text AS nickname, 'x' AS extra"
            let users = try await c.query(sql).decode(User.self).collect()
            #expect(users.count == 1)
            #expect(users[0].id == 1 && users[0].name == "ann" && users[0].nickname == nil && users[0].score == nil)
            let renamed = try await c.queryOne("SELECT 5 AS id, 'five' AS name", as: Renamed.self)
            #expect(renamed == Renamed(identifier: 5, label: "five"))
            let painted = try await c.queryOne(#"SELECT 'green' AS color, '{"a": 1, "b": ["x"]}'::jsonb AS tags"#, as: Painted.self)
            #expect(painted.color == .green)
            #expect(painted.tags == Meta(a: 1, b: ["x"]))
            // A missing required column names it.
            do {
                _ = try await c.queryOne("SELECT 1 AS id", as: User.self)
                Issue.record("missing column accepted")
            } catch let e as PGError {
                #expect(e.code == .decoding)
                #expect(e.message.contains("name"), "\(e)")
            }
            // A type mismatch names the column, its index, the server type and the Swift type.
            do {
                _ = try await c.queryOne("SELECT 'x' AS id, 'n' AS name, now() AS created_at", as: User.self)
                Issue.record("type mismatch accepted")
            } catch let e as PGError {
                #expect(e.code == .decoding)
                #expect(e.message.contains("column 0") && e.message.contains("\"id\"") && e.message.contains("Int"), "\(e)")
            }
        }
    }

    @Test func queryOneAndQueryOptionalCountRows() async throws {
        try await TestDB.withConnection { c in
            let none = try await c.queryOptional("SELECT 1 WHERE false")
            #expect(none == nil)
            let three = try await c.queryOptional("SELECT 3", as: Int.self)
            #expect(three == 3)
            await #expect(throws: PGError.self) { _ = try await c.queryOne("SELECT 1 WHERE false") }
            await #expect(throws: PGError.self) { _ = try await c.queryOptional("SELECT * FROM generate_series(1, 2)") }
            #expect(try await c.execute("SELECT * FROM generate_series(1, 5)") == 5)
        }
    }

    @Test func statementCacheRecoversTransparentlyFromDDL() async throws {
        try await TestDB.withConnection { c in
            try await c.execute("CREATE TEMP TABLE cache_t(a int)")
            try await c.execute("INSERT INTO cache_t VALUES (1)")
            #expect(try await c.query("SELECT * FROM cache_t").collect()[0].count == 1)
            // The result type changes: the server refuses the cached plan; Tusk re-prepares and retries once.
            try await c.execute("ALTER TABLE cache_t ADD COLUMN b text DEFAULT 'x'")
            #expect(try await c.query("SELECT * FROM cache_t").collect()[0].count == 2)
            // The table is dropped and recreated with other types.
            try await c.execute("DROP TABLE cache_t")
            try await c.execute("CREATE TEMP TABLE cache_t(a text, b int, c bool)")
            try await c.execute("INSERT INTO cache_t VALUES ('z', 2, true)")
            let row = try await c.queryOne("SELECT * FROM cache_t")
            #expect(row.count == 3)
            #expect(try row.decode(String.self, column: 0) == "z")
            // DEALLOCATE ALL forgets every prepared statement (SQLSTATE 26000 next time): recovered too.
            try await c.execute("INSERT INTO cache_t VALUES ('y', 3, false)")
            _ = try await c.simpleQuery("DEALLOCATE ALL")
            #expect(try await c.query("SELECT * FROM cache_t").collect().count == 2)
        }
    }

    @Test func statementCacheIsBoundedAndCanBeTurnedOff() async throws {
        var config = try await TestDB.configuration()
        config.statementCacheSize = 3
        let c = try await PGConnection.connect(config)
        for i in 0..<10 {
            _ = try await c.query("SELECT \(i)::int4 + \(unescaped: String(i))").collect()
        }
        let prepared = try await c.queryOne("SELECT count(*)::int8 FROM pg_prepared_statements", as: Int.self)
        #expect(prepared <= 4, "the cache kept \(prepared) statements")
        await c.close()

        config.statementCacheSize = 0
        let unnamed = try await PGConnection.connect(config)
        for i in 0..<5 {
            #expect(try await unnamed.queryOne("SELECT \(Int32(i)) + 1, 'x'::text", as: (Int, String).self) == (i + 1, "x"))
        }
        #expect(try await unnamed.queryOne("SELECT count(*)::int8 FROM pg_prepared_statements", as: Int.self) == 0)
        await unnamed.close()
    }

    @Test func explicitPrepareIsKept() async throws {
        var config = try await TestDB.configuration()
        config.statementCacheSize = 1
        let c = try await PGConnection.connect(config)
        let add = try await c.prepare("SELECT $1::int4 + 1")
        for i in 0..<5 { _ = try await c.query("SELECT \(unescaped: String(i))").collect() }
        #expect(try await add.query([Int32(41)]).decode(Int.self).collect() == [42])
        await c.close()
    }

    @Test func transactionsCommitAndRollBack() async throws {
        try await TestDB.withConnection { c in
            try await c.execute("CREATE TEMP TABLE tx_t(v int)")
            try await c.withTransaction { tx in
                try await tx.execute("INSERT INTO tx_t VALUES (\(1))")
            }
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await c.withTransaction { tx in
                    try await tx.execute("INSERT INTO tx_t VALUES (\(2))")
                    throw Boom()
                }
            }
            #expect(try await c.query("SELECT v FROM tx_t ORDER BY v").decode(Int.self).collect() == [1])
            // Savepoints: the inner failure rolls back only the inner work.
            try await c.withTransaction(isolation: .repeatableRead) { tx in
                try await tx.execute("INSERT INTO tx_t VALUES (\(3))")
                do {
                    try await tx.withTransaction { inner in
                        try await inner.execute("INSERT INTO tx_t VALUES (\(4))")
                        _ = try await inner.query("SELECT 1/0").collect()
                    }
                } catch let e as PGError {
                    #expect(e.sqlState == .divisionByZero)
                }
                try await tx.execute("INSERT INTO tx_t VALUES (\(5))")
            }
            #expect(try await c.query("SELECT v FROM tx_t ORDER BY v").decode(Int.self).collect() == [1, 3, 5])
            #expect(await c.transactionStatus == .idle)
            // Read-only is enforced by the server.
            await #expect(throws: PGError.self) {
                try await c.withTransaction(readOnly: true) { tx in _ = try await tx.execute("CREATE TABLE read_only_violation(v int)") }
            }
        }
    }

    @Test func cancelledTaskRollsItsTransactionBack() async throws {
        let c = try await TestDB.connect()
        try await c.execute("CREATE TEMP TABLE cancel_t(v int)")
        let task = Task {
            try await c.withTransaction { tx in
                try await tx.execute("INSERT INTO cancel_t VALUES (\(1))")
                _ = try await tx.query("SELECT pg_sleep(10)").collect()
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        let outcome = await task.result
        guard case .failure(let error as PGError) = outcome else {
            Issue.record("cancelled transaction did not fail: \(outcome)")
            return
        }
        #expect(error.code == .cancelled)
        #expect(try await c.queryOne("SELECT count(*)::int8 FROM cancel_t", as: Int.self) == 0)
        #expect(await c.transactionStatus == .idle)
        await c.close()
    }

    @Test func perQueryTimeoutCancelsAndReportsATimeout() async throws {
        try await TestDB.withConnection { c in
            let start = ContinuousClock.now
            do {
                _ = try await c.query("SELECT pg_sleep(\(Promptly.sleepSeconds))", timeout: .milliseconds(200)).collect()
                Issue.record("the query outlived its timeout")
            } catch let e as PGError {
                #expect(e.code == .timeout, "\(e)")
            }
            #expect(ContinuousClock.now - start < Promptly.bound)
            #expect(try await c.queryOne("SELECT 1", as: Int.self) == 1)
            // A query that finishes in time is unaffected.
            #expect(try await c.query("SELECT 2", timeout: .seconds(5)).decode(Int.self).collect() == [2])
        }
    }

    struct Mood: PGCustomType, Equatable {
        static var pgTypeName: String { "tusk_mood" }
        var label: String
        init(_ label: String) { self.label = label }
        func encode(into buffer: inout PGWriteBuffer) { buffer.writeString(label) }
        init(pgBytes bytes: ArraySlice<UInt8>, type: PGDataType, format: PGFormat) throws {
            guard format == .text, let text = String(validating: bytes, as: UTF8.self) else {
                throw PGError(code: .decoding, message: "Mood arrives as text")
            }
            label = text
        }
    }

    @Test func userDefinedTypesResolveTheirNameOncePerConnection() async throws {
        try await TestDB.withConnection { c in
            _ = try await c.simpleQuery("DROP TYPE IF EXISTS tusk_mood; CREATE TYPE tusk_mood AS ENUM ('sad', 'ok', 'happy')")
            // No cast in the SQL: the parameter's OID comes from the resolved name.
            let back = try await c.queryOne("SELECT \(Mood("happy")), pg_typeof(\(Mood("ok")))::text", as: (Mood, String).self)
            #expect(back.0 == Mood("happy"))
            #expect(back.1 == "tusk_mood")
            let oid = try await c.typeOID(named: "tusk_mood")
            #expect(try await c.queryOne("SELECT 'tusk_mood'::regtype::oid::int8", as: Int.self) == Int(oid.rawValue))
            await #expect(throws: PGError.self) { _ = try await c.typeOID(named: "no_such_type_here") }
        }
    }

    @Test func statementTimeoutOptionIsApplied() async throws {
        let pg = try await TestDB.server()
        let config = try PGConnectionConfiguration(url: pg.url() + (pg.url().contains("?") ? "&" : "?") + "statement_timeout=150")
        let c = try await PGConnection.connect(config)
        do {
            _ = try await c.query("SELECT pg_sleep(5)").collect()
            Issue.record("statement_timeout not applied")
        } catch let e as PGError {
            #expect(e.sqlState == .queryCanceled)
        }
        await c.close()
    }
}
