import Foundation
import PGClient
import PGTestSupport
import Testing

@Suite struct QueryTests {
    @Test func aValueMuchLargerThanOneReadArrivesWhole() async throws {
        try await TestDB.withConnection { c in
            let text = try await c.queryOne("SELECT repeat('x', \(Int32(20_000_000))) || 'end'", as: String.self)
            #expect(text.utf8.count == 20_000_003)
            #expect(text.hasSuffix("xend"))
            #expect(try await c.queryOne("SELECT 1", as: Int.self) == 1)
        }
    }

    @Test func extendedQueryWithBoundParametersOfEveryBinaryType() async throws {
        try await TestDB.withConnection { c in
            let uuid = UUID()
            let date = Date(timeIntervalSince1970: 1_700_000_000.123456)
            let day = PGDate(year: 1969, month: 7, day: 20)
            let rows = try await c.query(
                "SELECT $1::bool, $2::int2, $3::int4, $4::int8, $5::float4, $6::float8, $7::text, $8::bytea, $9::uuid, $10::timestamptz, $11::date, $12::varchar",
                [true, Int16(-7), Int32(123_456), Int64.max, Float(1.5), Double.pi, "héllo ✓", [UInt8]([0, 1, 255]), uuid, date, day, "v"]
            ).collect()
            #expect(rows.count == 1)
            let r = rows[0]
            #expect(try r.decode(Bool.self, column: 0) == true)
            #expect(try r.decode(Int16.self, column: 1) == -7)
            #expect(try r.decode(Int32.self, column: 2) == 123_456)
            #expect(try r.decode(Int64.self, column: 3) == Int64.max)
            #expect(try r.decode(Float.self, column: 4) == 1.5)
            #expect(try r.decode(Double.self, column: 5) == Double.pi)
            #expect(try r.decode(String.self, column: 6) == "héllo ✓")
            #expect(try r.decode([UInt8].self, column: 7) == [0, 1, 255])
            #expect(try r.decode(UUID.self, column: 8) == uuid)
            let back = try r.decode(Date.self, column: 9)
            #expect(abs(back.timeIntervalSince(date)) < 0.000_001)
            #expect(try r.decode(PGDate.self, column: 10) == day)
            #expect(try r.decode(String.self, column: 11) == "v")
            #expect(r.columns.columns[0].format == .binary)
        }
    }

    @Test func nullsBindAndDecodeAsOptionals() async throws {
        try await TestDB.withConnection { c in
            let none: Int32? = nil
            let rows = try await c.query("SELECT $1::int4, $2::text, NULL::uuid", [none, String?.none]).collect()
            let (a, b, u) = try rows[0].decode((Int32?, String?, UUID?).self)
            #expect(a == nil && b == nil && u == nil)
            do {
                _ = try rows[0].decode(Int32.self, column: 0)
                Issue.record("NULL decoded as a non-optional")
            } catch let e as PGError {
                #expect(e.code == .decoding)
                #expect(e.message.contains("NULL"))
            }
        }
    }

    @Test func typesWithoutABinaryCodecArriveAsText() async throws {
        try await TestDB.withConnection { c in
            let rows = try await c.query("SELECT 12.345::numeric, '1 day'::interval, '{1,2}'::int4[], $1::int4, '(1,2)'::point", [Int32(1)]).collect()
            let r = rows[0]
            #expect(r.columns.columns[4].format == .text)
            #expect(try r.decode(String.self, column: 4) == "(1,2)")
            // numeric, interval and int4[] now arrive in binary; String renders them as the server's text.
            #expect(r.columns.columns[0].format == .binary)
            #expect(try r.decode(String.self, column: 0) == "12.345")
            #expect(try r.decode(String.self, column: 1) == "1 day")
            #expect(try r.decode(String.self, column: 2) == "{1,2}")
            // Text values with no binary codec can be sent too: the server infers the type.
            let n = try await c.query("SELECT $1::numeric * 2", [PGTextValue("1.25")]).collect()
            #expect(try n[0].decode(String.self, column: 0) == "2.50")
        }
    }

    @Test func tupleAndNamedDecodingReportMismatches() async throws {
        try await TestDB.withConnection { c in
            let rows = try await c.query("SELECT 1::int4 AS id, 'x'::text AS name").collect()
            let (id, name) = try rows[0].decode((Int, String).self)
            #expect(id == 1 && name == "x")
            #expect(try rows[0].decode(String.self, column: "name") == "x")
            do {
                _ = try rows[0].decode((Int, String, Int).self)
                Issue.record("arity mismatch accepted")
            } catch let e as PGError { #expect(e.code == .decoding) }
            do {
                _ = try rows[0].decode(UUID.self, column: "id")
                Issue.record("int4 decoded as UUID")
            } catch let e as PGError {
                #expect(e.code == .decoding)
                #expect(e.message.contains("\"id\""))
                #expect(e.message.contains("int4"))
                #expect(e.message.contains("UUID"))
            }
        }
    }

    @Test func simpleQueryReturnsEachStatementsResultInOrder() async throws {
        try await TestDB.withConnection { c in
            let results = try await c.simpleQuery("""
                CREATE TEMP TABLE simple_t(x int, y text);
                INSERT INTO simple_t VALUES (1, 'a'), (2, NULL);
                SELECT x, y FROM simple_t ORDER BY x;
                SELECT 'second';
                """)
            #expect(results.count == 4)
            #expect(results[0].commandTag == "CREATE TABLE")
            #expect(results[1].affectedRows == 2)
            #expect(results[2].rows.count == 2)
            #expect(try results[2].rows[1].decode(String?.self, column: 1) == nil)
            #expect(try results[2].rows[0].decode(Int.self, column: 0) == 1) // text format decodes too
            #expect(try results[3].rows[0].decode(String.self, column: 0) == "second")
        }
    }

    @Test func serverErrorsAreTypedAndTheConnectionStaysUsable() async throws {
        try await TestDB.withConnection { c in
            do {
                _ = try await c.query("SELECT * FROM no_such_table_xyz")
                Issue.record("query on a missing table succeeded")
            } catch let e as PGError {
                #expect(e.code == .server)
                #expect(e.sqlState == .undefinedTable)
                #expect(e.sqlState?.name == "undefined_table")
                #expect(e.serverInfo?.severity == "ERROR")
                #expect(e.serverInfo?.position == 15)
            }
            _ = try await c.simpleQuery("CREATE TEMP TABLE uniq(id int PRIMARY KEY)")
            try await c.execute("INSERT INTO uniq VALUES ($1)", [1])
            do {
                try await c.execute("INSERT INTO uniq VALUES ($1)", [1])
                Issue.record("duplicate accepted")
            } catch let e as PGError {
                #expect(e.sqlState == .uniqueViolation)
                #expect(e.serverInfo?.constraintName == "uniq_pkey")
                #expect(e.serverInfo?.tableName == "uniq")
                #expect(e.serverInfo?.detail?.contains("already exists") == true)
                #expect(!e.description.contains("(id)=(1)"), "bound values must not appear in description")
            }
            do {
                _ = try await c.query("SELECT 1/$1::int4", [Int32(0)]).collect()
                Issue.record("division by zero succeeded")
            } catch let e as PGError { #expect(e.sqlState == .divisionByZero) }
            // Still usable.
            let rows = try await c.query("SELECT $1::int4 + 1", [Int32(41)]).collect()
            #expect(try rows[0].decode(Int32.self, column: 0) == 42)
        }
    }

    @Test func executeReturnsAffectedRows() async throws {
        try await TestDB.withConnection { c in
            _ = try await c.simpleQuery("CREATE TEMP TABLE aff(x int)")
            #expect(try await c.execute("INSERT INTO aff SELECT generate_series(1, $1)", [10]) == 10)
            #expect(try await c.execute("UPDATE aff SET x = x + 1 WHERE x > $1", [5]) == 5)
            #expect(try await c.execute("DELETE FROM aff") == 10)
        }
    }

    @Test func largeResultStreamsWithFlatMemory() async throws {
        try await TestDB.withConnection { c in
            var count = 0
            var sum = 0
            let rows = try await c.query("SELECT i, i::text FROM generate_series(1, $1) i", [300_000])
            for try await row in rows {
                let (i, s) = try row.decode((Int, String).self)
                #expect(String(i) == s)
                sum += i
                count += 1
            }
            #expect(count == 300_000)
            #expect(sum == 300_000 * 300_001 / 2)
            #expect(rows.commandTag == "SELECT 300000")
        }
    }

    /// Bytes waiting unread in the receive queue of this process's TCP socket on 127.0.0.1 with local port `port`
    /// (from /proc/net/tcp); nil when there is no such socket.
    static func receiveQueue(localPort port: Int) -> Int? {
        // Read to EOF with read(2): /proc files report size 0, and with hundreds of sockets open (suites running
        // in parallel) the table spans many pages.
        let fd = open("/proc/net/tcp", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ")
            // An established socket (st 01): a TIME_WAIT entry of an earlier connection can share the local port.
            guard f.count > 4, f[3] == "01", let local = f[1].split(separator: ":").last, Int(local, radix: 16) == port,
                  let rx = f[4].split(separator: ":").last else { continue }
            return Int(rx, radix: 16)
        }
        return nil
    }

    /// Streaming keeps memory flat through backpressure: a consumer that stops taking rows makes the connection
    /// stop reading its socket once the stream's buffer is full. Then the socket's receive queue stays full and
    /// unchanged and the server blocks writing (its backend waits on `ClientWrite`) with most of the ~100 MB
    /// result unsent. Asserted on this connection's own socket and backend, not on the process's resident memory,
    /// which the suites that plain `swift test` runs in parallel share (seen: +156 MB from others).
    @Test func streamingAResultLargerThanMemoryBoundsKeepsMemoryFlat() async throws {
        let observer = try await TestDB.connect()
        try await TestDB.withConnection { c in
            let pid = await c.backendProcessID
            let port = try await observer.queryOne("SELECT client_port FROM pg_stat_activity WHERE pid = \(pid)", as: Int.self)
            // 300,000 rows of ~310 bytes: about 100 MB, far more than socket buffers and the stream's high watermark.
            let rows = try await c.query("SELECT i, repeat('x', 300) FROM generate_series(1, 300000) i").decode((Int, String).self)
            var iterator = rows.makeAsyncIterator()
            var count = 0
            func take(_ n: Int) async throws {
                for _ in 0..<n {
                    guard let row = try await iterator.next() else { return }
                    let (i, pad) = row
                    count += 1
                    if pad.utf8.count != 300 || i != count { Issue.record("row \(count) is wrong"); return }
                }
            }
            try await take(1_000)
            // The consumer pauses. Within a bound, the client must stop reading (its receive queue full and the
            // same over five samples in half a second) and the server must be blocked writing to it.
            let deadline = ContinuousClock.now + .seconds(15)
            var held = 0
            var last: Int?
            var seen: [String] = []
            while held < 5, ContinuousClock.now < deadline {
                let event = try await observer.queryOne(
                    "SELECT coalesce((SELECT wait_event FROM pg_stat_activity WHERE pid = \(pid)), '')", as: String.self)
                let queued = Self.receiveQueue(localPort: port)
                seen.append("\(event)/\(queued.map(String.init) ?? "-")")
                held = event == "ClientWrite" && (queued ?? 0) > 0 && queued == last ? held + 1 : 0
                last = queued
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(held == 5, "the client read on while its consumer paused: \(seen.suffix(10))")
            try await take(300_000)
            #expect(count == 300_000)
        }
        await observer.close()
    }

    @Test func breakingOutOfAResultLeavesTheConnectionUsable() async throws {
        try await TestDB.withConnection { c in
            do {
                let rows = try await c.query("SELECT i FROM generate_series(1, 200000) i")
                var n = 0
                for try await _ in rows {
                    n += 1
                    if n == 10 { break }
                }
            }
            let rows = try await c.query("SELECT 7::int4").collect()
            #expect(try rows[0].decode(Int.self, column: 0) == 7)
        }
    }

    @Test func pipelinedQueriesWithAFailureInTheMiddle() async throws {
        try await TestDB.withConnection { c in
            let results = try await withThrowingTaskGroup(of: (Int, Result<Int, PGError>).self) { group in
                for i in 0..<10_000 {
                    group.addTask {
                        do {
                            let divisor = i == 5_000 ? 0 : 1
                            let rows = try await c.query("SELECT $1::int4 / $2::int4", [Int32(i), Int32(divisor)]).collect()
                            return (i, .success(try rows[0].decode(Int.self, column: 0)))
                        } catch let e as PGError {
                            return (i, .failure(e))
                        }
                    }
                }
                var all: [Int: Result<Int, PGError>] = [:]
                for try await (i, r) in group { all[i] = r }
                return all
            }
            #expect(results.count == 10_000)
            for (i, r) in results {
                switch r {
                case .success(let v): #expect(i != 5_000 && v == i)
                case .failure(let e): #expect(i == 5_000 && e.sqlState == .divisionByZero, "\(i): \(e)")
                }
            }
        }
    }

    @Test func statementCacheRecoversAfterTheTableChanges() async throws {
        try await TestDB.withConnection { c in
            _ = try await c.simpleQuery("CREATE TEMP TABLE ddl_t(a int); INSERT INTO ddl_t VALUES (1)")
            _ = try await c.query("SELECT * FROM ddl_t").collect()
            _ = try await c.simpleQuery("ALTER TABLE ddl_t ADD COLUMN b text")
            // The cached plan's result type changed: the server refuses once, Tusk re-prepares next time.
            var rows: [PGRow] = []
            do { rows = try await c.query("SELECT * FROM ddl_t").collect() } catch { rows = try await c.query("SELECT * FROM ddl_t").collect() }
            #expect(rows[0].count == 2)
        }
    }
}
