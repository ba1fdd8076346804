import Foundation
import Logging
import PGClient
import PGTestSupport
import PGWire
import Testing

/// Named and unnamed statements against PostgreSQL directly: which mode a connection picks, what `prepare()`
/// leaves on the server, recovery when the server loses its statements, and how a backend's termination surfaces.
@Suite struct StatementModeTests {
    static func connect(_ tweak: (inout PGConnectionConfiguration) -> Void = { _ in }, logger: Logger? = nil) async throws -> PGConnection {
        var config = try await TestDB.configuration()
        tweak(&config)
        if let logger { return try await PGConnection.connect(config, logger: logger) }
        return try await PGConnection.connect(config)
    }

    @Test func directConnectionsUseNamedStatements() async throws {
        let c = try await Self.connect()
        #expect(await c.isBehindPooler == false)
        #expect(await c.preparedStatementMode == .named)
        _ = try await c.query("SELECT \(Int32(1))::int4 + 1").collect()
        let named = try await c.queryOne("SELECT count(*)::int4 FROM pg_prepared_statements WHERE name LIKE 'tusk_%'", as: Int32.self)
        #expect(named >= 1)
        await c.close()

        let forced = try await Self.connect { $0.preparedStatements = .unnamed }
        #expect(await forced.isBehindPooler == nil)  // not checked: the mode was given
        #expect(await forced.preparedStatementMode == .unnamed)
        await forced.close()
    }

    @Test(arguments: ["prepared_statements=unnamed", "statement_cache_size=0"])
    func prepareInUnnamedModeChecksAndLeavesNoNamedStatement(_ option: String) async throws {
        let pg = try await TestDB.server()
        let c = try await PGConnection.connect(try PGConnectionConfiguration(url: pg.url() + "?" + option))
        let add = try await c.prepare("SELECT $1::int4 + 1")
        for i in Int32(0)..<5 {
            #expect(try await add.query([i]).collect()[0].decode(Int32.self, column: 0) == i + 1)
        }
        #expect(try await c.queryOne("SELECT count(*)::int4 FROM pg_prepared_statements", as: Int32.self) == 0)
        await #expect(throws: PGError.self) { _ = try await c.prepare("SELEKT 1") }
        // The connection is still usable after the failed prepare.
        #expect(try await add.query([Int32(41)]).collect()[0].decode(Int32.self, column: 0) == 42)
        await c.close()
    }

    /// Unnamed statements get binary results once their types are known, and are decoded by the types the server
    /// really sends, also after the table's column type changed between runs.
    @Test func unnamedStatementsLearnFormatsAndFollowSchemaChanges() async throws {
        let c = try await Self.connect { $0.preparedStatements = .unnamed }
        let table = "stmt_mode_\(UInt32.random(in: 0...UInt32.max))"
        try await c.execute("CREATE TABLE \(identifier: table) (a int4)")
        try await c.execute("INSERT INTO \(identifier: table) VALUES (\(Int32(7)))")
        let sql = PGQuery(unsafeSQL: "SELECT a FROM \"\(table)\" WHERE $1::int4 > 0", [Int32(1)])
        let first = try await c.query(sql).collect()
        #expect(first[0].columns.columns[0].format == .text)
        let second = try await c.query(sql).collect()
        #expect(second[0].columns.columns[0].format == .binary)
        #expect(try second[0].decode(Int32.self, column: 0) == 7)
        try await c.execute("ALTER TABLE \(identifier: table) ALTER COLUMN a TYPE int8")
        try await c.execute("UPDATE \(identifier: table) SET a = 5000000000")
        let third = try await c.query(sql).collect()
        #expect(third[0].columns.columns[0].dataType == .int8)
        #expect(try third[0].decode(Int64.self, column: 0) == 5_000_000_000)
        try await c.execute("ALTER TABLE \(identifier: table) ALTER COLUMN a TYPE text")
        let fourth = try await c.query(sql).collect()
        #expect(try fourth[0].decode(String.self, column: 0) == "5000000000")
        try await c.execute("DROP TABLE \(identifier: table)")
        await c.close()
    }

    /// DEALLOCATE ALL once (the server lost every statement): runs retry on a fresh Parse, still named. A second
    /// loss switches the connection to unnamed statements for good.
    @Test func lostStatementsArePreparedAgainAndASecondLossSwitchesToUnnamed() async throws {
        let c = try await Self.connect()
        let a = "SELECT $1::int4 + 1", b = "SELECT $1::int4 * 3"
        for i in Int32(0)..<3 {
            #expect(try await c.query(a, [i]).collect()[0].decode(Int32.self, column: 0) == i + 1)
            #expect(try await c.query(b, [i]).collect()[0].decode(Int32.self, column: 0) == i * 3)
        }
        _ = try await c.simpleQuery("DEALLOCATE ALL")
        #expect(try await c.query(a, [Int32(10)]).collect()[0].decode(Int32.self, column: 0) == 11)
        // b was lost with a: the cache was emptied, so b is prepared again without failing first.
        #expect(try await c.query(b, [Int32(10)]).collect()[0].decode(Int32.self, column: 0) == 30)
        #expect(await c.preparedStatementMode == .named)
        _ = try await c.simpleQuery("DEALLOCATE ALL")
        #expect(try await c.query(a, [Int32(20)]).collect()[0].decode(Int32.self, column: 0) == 21)
        #expect(await c.preparedStatementMode == .unnamed)
        #expect(try await c.query(b, [Int32(20)]).collect()[0].decode(Int32.self, column: 0) == 60)
        await c.close()
    }

    /// A backend terminated while idle is an expected event: logged at info, not as a protocol violation, and the
    /// next call fails with the server's reason (57P01) as a closed connection.
    @Test func aBackendTerminatedWhileIdleIsLoggedAtInfoAndSurfacesAs57P01() async throws {
        let store = CapturingLogHandler.Store()
        let logger = Logger(label: "tusk.test.terminate") { _ in CapturingLogHandler(store: store) }
        let c = try await Self.connect(logger: logger)
        let pid = await c.backendProcessID
        let admin = try await TestDB.connect()
        _ = try await admin.query("SELECT pg_terminate_backend(\(pid))").collect()
        let deadline = ContinuousClock.now + .seconds(5)
        while !c.isClosed, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(c.isClosed)
        let error = await #expect(throws: PGError.self) { _ = try await c.query("SELECT 1").collect() }
        #expect(error?.code == .connectionClosed)
        #expect(error?.sqlState == .adminShutdown)
        let lines = store.all
        #expect(lines.contains { $0.hasPrefix("info connection terminated by the server") && $0.contains("57P01") }, "\(lines)")
        #expect(!lines.contains { $0.contains("protocol violation") }, "\(lines)")
        await admin.close()
    }

    /// A backend terminated while a query runs: that query and the ones queued behind it fail with one shape.
    @Test func aBackendTerminatedMidQueryFailsEveryRequestWithOneShape() async throws {
        let c = try await Self.connect()
        let pid = await c.backendProcessID
        let running = Task { try await c.query("SELECT pg_sleep(10)").collect() }
        let admin = try await TestDB.connect()
        // Wait until the sleep is running, then terminate its backend.
        let deadline = ContinuousClock.now + .seconds(8)
        var sleeping = false
        while !sleeping, ContinuousClock.now < deadline {
            sleeping = try await admin.queryOne(
                "SELECT count(*)::int4 FROM pg_stat_activity WHERE pid = \(pid) AND query LIKE '%pg_sleep%' AND state = 'active'", as: Int32.self) == 1
            if !sleeping { try await Task.sleep(for: .milliseconds(10)) }
        }
        try #require(sleeping, "the sleep did not start within 8 s")
        // Pipelined behind the sleep.
        let queued = Task { try await c.query("SELECT \(Int32(1))::int4").collect() }
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await admin.queryOne("SELECT pg_terminate_backend(\(pid))", as: Bool.self))
        for task in [running, queued] {
            do {
                _ = try await task.value
                Issue.record("a request on the terminated backend succeeded")
            } catch let error as PGError {
                #expect(error.code == .connectionClosed, "\(error)")
                #expect(error.sqlState == .adminShutdown, "\(error)")
            }
        }
        let after = await #expect(throws: PGError.self) { _ = try await c.query("SELECT 1").collect() }
        #expect(after?.sqlState == .adminShutdown)
        await admin.close()
    }
}
