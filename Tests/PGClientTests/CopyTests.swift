import Foundation
import PGClient
import PGTransport
import PGTestSupport
import Testing

@Suite(.serialized) struct CopyTests {
    static let rowCount = 1_000_000

    /// Sum of ids, sum of text lengths and sum of values, computed by the server.
    func checksum(_ c: PGConnection, _ table: String) async throws -> (Int, Int, Double) {
        try await c.queryOne("SELECT count(*)::int8, sum(length(name))::int8, sum(value) FROM \(identifier: table)", as: (Int, Int, Double).self)
    }

    func expected(_ n: Int) -> (Int, Int, Double) {
        var lengths = 0
        for i in 0..<n { lengths += "row-\(i)".utf8.count }
        // value = i * 1.5 for i in 0..<n
        return (n, lengths, 1.5 * Double(n - 1) * Double(n) / 2)
    }

    @Test(arguments: ["text", "csv", "binary"])
    func copyAMillionRowsIn(format: String) async throws {
        // Its own event loop: a million rows must not delay other suites' connections (timing assertions).
        let loop = try PGEventLoop(name: "copy-test")
        let c = try await PGConnection.connect(try await TestDB.configuration(), eventLoop: loop)
        defer { Task { await c.close() } }
        do {
            let table = "copy_in_\(format)"
            try await c.execute("CREATE TEMP TABLE \(identifier: table) (id int8, name text, value float8)")
            let n = Self.rowCount
            let copied: Int
            if format == "binary" {
                copied = try await c.copyInRows(table: table, columns: ["id", "name", "value"]) { rows in
                    for i in 0..<n { try await rows.writeRow(Int64(i), "row-\(i)", Double(i) * 1.5) }
                }
            } else {
                let separator = format == "csv" ? "," : "\t"
                copied = try await c.copyIn("COPY \(table) FROM STDIN (FORMAT \(format))") { writer in
                    for i in 0..<n { try await writer.write("\(i)\(separator)row-\(i)\(separator)\(Double(i) * 1.5)\n") }
                }
            }
            #expect(copied == n)
            let (count, lengths, sum) = try await checksum(c, table)
            let want = expected(n)
            #expect(count == want.0)
            #expect(lengths == want.1)
            #expect(sum == want.2)
        }
    }

    @Test(arguments: ["disable", "require"])
    func copyOverPlainTCPAndTLS(sslmode: String) async throws {
        var config = try await TestDB.configuration()
        config.sslMode = sslmode == "disable" ? .disable : .require
        let c = try await PGConnection.connect(config)
        #expect(c.isEncrypted == (sslmode == "require"))
        try await c.execute("CREATE TEMP TABLE copy_transport (id int8, name text, value float8)")
        // ~12 MB of rows: more than the 4 MiB the writer lets queue, so flow control must resume it.
        let n = 300_000
        let copied = try await c.copyInRows(table: "copy_transport", columns: ["id", "name", "value"]) { rows in
            for i in 0..<n { try await rows.writeRow(Int64(i), String(repeating: "x", count: 20) + "\(i)", Double(i)) }
        }
        #expect(copied == n)
        #expect(try await c.queryOne("SELECT count(*)::int8 FROM copy_transport", as: Int.self) == n)
        await c.close()
    }

    @Test func copyFailMidStreamLeavesTheConnectionUsable() async throws {
        try await TestDB.withConnection { c in
            try await c.execute("CREATE TEMP TABLE copy_fail (v int)")
            struct SourceBroke: Error {}
            await #expect(throws: SourceBroke.self) {
                try await c.copyIn("COPY copy_fail FROM STDIN") { writer in
                    for i in 0..<100_000 { try await writer.write("\(i)\n") }
                    throw SourceBroke()
                }
            }
            #expect(try await c.queryOne("SELECT count(*)::int8 FROM copy_fail", as: Int.self) == 0)
            #expect(await c.transactionStatus == .idle)
            #expect(try await c.copyIn("COPY copy_fail FROM STDIN") { try await $0.write("7\n") } == 1)
        }
    }

    @Test func copyViolatingAConstraintIsATypedError() async throws {
        try await TestDB.withConnection { c in
            try await c.execute("CREATE TEMP TABLE copy_unique (v int CONSTRAINT copy_unique_v UNIQUE)")
            do {
                try await c.copyIn("COPY copy_unique FROM STDIN") { writer in
                    for i in 0..<50_000 { try await writer.write("\(i % 40_000)\n") }
                }
                Issue.record("duplicate rows were copied")
            } catch let e as PGError {
                #expect(e.sqlState == .uniqueViolation, "\(e)")
                #expect(e.serverInfo?.constraintName == "copy_unique_v")
            }
            do {
                try await c.copyIn("COPY copy_unique FROM STDIN") { try await $0.write("not a number\n") }
                Issue.record("a bad row was copied")
            } catch let e as PGError {
                #expect(e.sqlState == .invalidTextRepresentation, "\(e)")
            }
            await #expect(throws: PGError.self) {
                try await c.copyIn("COPY missing_table FROM STDIN") { try await $0.write("1\n") }
            }
            #expect(try await c.queryOne("SELECT 1", as: Int.self) == 1)
        }
    }

    @Test func copyOutAsChunksAndAsTypedRows() async throws {
        try await TestDB.withConnection { c in
            var text: [UInt8] = []
            let chunks = try await c.copyOut("COPY (SELECT i, 'n' || i FROM generate_series(1, 1000) i) TO STDOUT")
            for try await chunk in chunks { text += chunk }
            let lines = String(decoding: text, as: UTF8.self).split(separator: "\n")
            #expect(lines.count == 1000)
            #expect(lines[999] == "1000\tn1000")

            let rows = try await c.copyOutRows(
                "COPY (SELECT i::int8, 'n' || i, i * 0.5::float8, CASE WHEN i % 2 = 0 THEN NULL ELSE i END FROM generate_series(1, 100000) i) TO STDOUT (FORMAT binary)",
                columns: [("id", .int8), ("name", .text), ("half", .float8), ("odd", .int4)])
            var count = 0
            var sum = 0
            var nulls = 0
            for try await (id, name, half, odd) in rows.decode((Int, String, Double, Int?).self) {
                count += 1
                sum += id
                #expect(name == "n\(id)")
                #expect(half == Double(id) * 0.5)
                if odd == nil { nulls += 1 }
            }
            #expect(count == 100_000)
            #expect(sum == 100_000 * 100_001 / 2)
            #expect(nulls == 50_000)
            // The connection is ready for more.
            #expect(try await c.queryOne("SELECT 2", as: Int.self) == 2)
        }
    }

    @Test func batchSendsEverythingAndKeepsOrder() async throws {
        try await TestDB.withConnection { c in
            try await c.execute("CREATE TEMP TABLE batch_t (v int)")
            let results = try await c.batch([
                "INSERT INTO batch_t VALUES (\(1))",
                "SELECT 1/0",
                "INSERT INTO batch_t VALUES (\(2))",
                "SELECT count(*)::int8 FROM batch_t",
            ])
            #expect(results.count == 4)
            #expect(try results[0].get().affectedRows == 1)
            guard case .failure(let e) = results[1] else { Issue.record("1/0 succeeded"); return }
            #expect(e.sqlState == .divisionByZero)
            #expect(try results[3].get().rows[0].decode(Int.self, column: 0) == 2)
            // In one transaction: the failure rolls everything back.
            await #expect(throws: PGError.self) {
                _ = try await c.batch(["INSERT INTO batch_t VALUES (\(3))", "SELECT 1/0"], inTransaction: true)
            }
            #expect(try await c.queryOne("SELECT count(*)::int8 FROM batch_t", as: Int.self) == 2)
            let ok = try await c.batch(["INSERT INTO batch_t VALUES (\(4))", "INSERT INTO batch_t VALUES (\(5))"], inTransaction: true)
            #expect(ok.count == 2)
            #expect(try await c.queryOne("SELECT count(*)::int8 FROM batch_t", as: Int.self) == 4)
            #expect(await c.transactionStatus == .idle)
        }
    }
}
