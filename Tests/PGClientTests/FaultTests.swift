import Foundation
import PGClient
import PGTestSupport
import Testing

@Suite(.serialized) struct FaultTests {
    @Test func backendKilledMidQueryFailsTheQueryAndLaterOnesAtOnce() async throws {
        let pg = try await TestDB.server()
        let c = try await TestDB.connect()
        let pid = await c.backendProcessID
        let sleeper = Task { try await c.query("SELECT pg_sleep(\(Promptly.sleepSeconds))").collect() }
        try await Task.sleep(for: .milliseconds(300))
        _ = try await pg.psql("SELECT pg_terminate_backend(\(pid))")
        let start = ContinuousClock.now
        do {
            _ = try await sleeper.value
            Issue.record("query survived its backend")
        } catch let e as PGError {
            #expect(e.code == .connectionClosed || e.code == .server, "\(e)")
        }
        #expect(ContinuousClock.now - start < Promptly.bound, "failed after \(ContinuousClock.now - start)")
        #expect(c.isClosed)
        do {
            _ = try await c.query("SELECT 1")
            Issue.record("query on a dead connection succeeded")
        } catch let e as PGError {
            #expect(e.code == .connectionClosed)
        }
    }

    @Test func everyQueuedRequestFailsWhenTheConnectionDies() async throws {
        let pg = try await TestDB.server()
        let c = try await TestDB.connect()
        let pid = await c.backendProcessID
        // The sleeper goes first; 49 more queue behind it on the same connection.
        let sleeper = Task { () -> Bool in
            do {
                _ = try await c.query("SELECT pg_sleep(\(Promptly.sleepSeconds))").collect()
                return true
            } catch { return false }
        }
        try await Task.sleep(for: .milliseconds(200))
        let queued = (1..<50).map { _ in
            Task { () -> Bool in
                do {
                    _ = try await c.query("SELECT pg_sleep(0)").collect()
                    return true
                } catch { return false }
            }
        }
        let tasks = [sleeper] + queued
        try await Task.sleep(for: .milliseconds(200))
        _ = try await pg.psql("SELECT pg_terminate_backend(\(pid))")
        let outcomes = try await within(Promptly.bound, "queued requests") {
            var r: [Bool] = []
            for t in tasks { r.append(await t.value) }
            return r
        }
        #expect(outcomes.filter { $0 }.count == 0)
    }

    /// The cancel ends the sleep long before its end (``Promptly``: a 1 s bound was seen missed under the load of
    /// plain `swift test`).
    @Test func cancellingTheTaskCancelsTheQueryLongBeforeItEnds() async throws {
        let c = try await TestDB.connect()
        let task = Task { try await c.query("SELECT pg_sleep(\(Promptly.sleepSeconds))").collect() }
        try await Task.sleep(for: .milliseconds(300))
        let start = ContinuousClock.now
        task.cancel()
        do {
            _ = try await task.value
            Issue.record("cancelled query succeeded")
        } catch let e as PGError {
            #expect(e.code == .cancelled, "\(e)")
            #expect(e.sqlState == .queryCanceled)
        }
        #expect(ContinuousClock.now - start < Promptly.bound, "cancelled after \(ContinuousClock.now - start)")
        // The connection is still usable.
        let rows = try await c.query("SELECT 1::int4").collect()
        #expect(try rows[0].decode(Int.self, column: 0) == 1)
        await c.close()
    }

    @Test func cancellingOnePipelinedWaiterLeavesTheOthersAlone() async throws {
        let c = try await TestDB.connect()
        // The first sleeps long enough (3 s) that the second is still queued when cancelled, even on a loaded machine.
        let first = Task { try await c.queryOne("SELECT pg_sleep(3), 1", as: (String, Int).self).1 }
        try await Task.sleep(for: .milliseconds(50))
        let second = Task { try await c.queryOne("SELECT pg_sleep(0.4), 2", as: (String, Int).self).1 }
        try await Task.sleep(for: .milliseconds(50))
        let third = Task { try await c.queryOne("SELECT 3", as: Int.self) }
        try await Task.sleep(for: .milliseconds(50))
        second.cancel()  // still queued behind the first: cancelled when its turn comes
        #expect(try await first.value == 1)
        await #expect(throws: PGError.self) { _ = try await second.value }
        #expect(try await third.value == 3)
        #expect(try await c.queryOne("SELECT 4", as: Int.self) == 4)
        await c.close()
    }

    /// A cancel that comes while its request is still on its way waits until the server holds the request
    /// (written, and for a large one acknowledged with BindComplete): the server ignores a CancelRequest that
    /// arrives while it is reading the request, and the query would then run to its end. Here a 64 MB request
    /// waits behind a half-second query, so the server reads it only once that one is done, and the cancel
    /// comes (as the queued request's turn begins) while it is still being read.
    @Test func aCancelDuringALargeRequestsWriteIsNotLost() async throws {
        let c = try await TestDB.connect()
        let sql = "SELECT pg_sleep($1), length($2::bytea)"
        _ = try await c.execute(sql, [0.0, [UInt8]([1])])
        let first = Task { try await c.execute(sql, [0.5, [UInt8]([1])]) }
        try await Task.sleep(for: .milliseconds(50))
        let big = [UInt8](repeating: 7, count: 64 << 20)
        let second = Task { try await c.execute(sql, [Promptly.sleepSeconds, big]) }
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        second.cancel()
        do {
            _ = try await second.value
            Issue.record("the cancelled query ran to its end")
        } catch let e as PGError {
            #expect(e.code == .cancelled, "\(e)")
            // Cancelled by the server, so the request was sent (not failed unsent before it started).
            #expect(e.sqlState == .queryCanceled, "\(e)")
        }
        // Without the wait: the whole sleep (``Promptly``). With it: the first query's rest, the write, and the cancel.
        #expect(ContinuousClock.now - start < Promptly.bound, "cancelled after \(ContinuousClock.now - start)")
        _ = try await first.value
        #expect(try await c.queryOne("SELECT 1", as: Int.self) == 1)
        await c.close()
    }

    @Test func serverClosingMidMessageIsATypedError() async throws {
        let backend = try ScriptedBackend { conn in
            _ = try conn.readStartup()
            try conn.send(ScriptedBackend.startupOk)
            try conn.readRequest()
            // Half a ParseComplete… and the server goes away.
            try conn.send(Array(ScriptedBackend.parseComplete.prefix(3)))
            conn.close()
        }
        defer { backend.stop() }
        let c = try await PGConnection.connect(try PGConnectionConfiguration(url: "postgres://u@127.0.0.1:\(backend.port)/db?sslmode=disable&prepared_statements=named"))
        do {
            _ = try await within(.seconds(2), "query") { try await c.query("SELECT 1") }
            Issue.record("query succeeded")
        } catch let e as PGError {
            #expect(e.code == .connectionClosed, "\(e)")
        }
    }

    /// A backend that answers the n-th request (Parse/Describe/Sync, then Bind/Execute/Sync) with `replies[n]`.
    static func scripted(_ replies: [[UInt8]]) throws -> ScriptedBackend {
        try ScriptedBackend { conn in
            _ = try conn.readStartup()
            try conn.send(ScriptedBackend.startupOk)
            for reply in replies {
                try conn.readRequest()
                try conn.send(reply)
            }
            try conn.readRequest()
            Thread.sleep(forTimeInterval: 5) // a hang here must not hang the client: it closes on the violation
        }
    }

    static let violations: [(String, [[UInt8]])] = {
        typealias B = ScriptedBackend
        let described: [UInt8] = B.parseComplete + B.noParameters + B.rowDescriptionInt4 + B.readyForQuery
        let wrongFieldCount: [UInt8] = B.message("D", [0, 2, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1])
        var cases: [(String, [[UInt8]])] = []
        cases.append(("DataRow before RowDescription", [B.dataRowInt4 + B.readyForQuery]))
        cases.append(("unknown message type", [B.message("~", [1, 2, 3])]))
        cases.append(("length under 4", [[UInt8(ascii: "Z"), 0, 0, 0, 2]]))
        cases.append(("length over the maximum", [[UInt8(ascii: "D"), 0x7F, 0xFF, 0xFF, 0xFF]]))
        cases.append(("field count that disagrees", [described, B.bindComplete + wrongFieldCount]))
        cases.append(("a second ReadyForQuery", [described + B.readyForQuery]))
        cases.append(("a DataRow after the result completed", [described, B.bindComplete + B.dataRowInt4 + B.selectOne + B.dataRowInt4]))
        cases.append(("invalid UTF-8 in a command tag", [described, B.bindComplete + B.message("C", [0xFF, 0xFE, 0])]))
        return cases
    }()

    @Test(arguments: Self.violations)
    func protocolViolationsFailTheQueryAndCloseTheConnection(_ name: String, _ replies: [[UInt8]]) async throws {
        let backend = try Self.scripted(replies)
        defer { backend.stop() }
        let c = try await PGConnection.connect(try PGConnectionConfiguration(url: "postgres://u@127.0.0.1:\(backend.port)/db?sslmode=disable&prepared_statements=named"))
        do {
            _ = try await within(.seconds(2), name) { try await c.query("SELECT x").collect() }
            Issue.record("\(name): query succeeded")
        } catch let e as PGError {
            #expect(e.code == .protocolViolation || e.code == .connectionClosed, "\(name): \(e)")
        }
        #expect(c.isClosed, "\(name): connection left open")
    }

    @Test func unsupportedAuthenticationIsATypedError() async throws {
        let backend = try ScriptedBackend { conn in
            _ = try conn.readStartup()
            try conn.send(ScriptedBackend.message("R", [0, 0, 0, 7])) // GSSAPI
        }
        defer { backend.stop() }
        do {
            _ = try await PGConnection.connect(try PGConnectionConfiguration(url: "postgres://u:pw@127.0.0.1:\(backend.port)/db?sslmode=disable"))
            Issue.record("connected")
        } catch let e as PGError {
            #expect(e.code == .unsupportedAuthentication)
            #expect(e.message.contains("GSSAPI"))
        }
    }

    @Test func scramServerThatCannotProveThePasswordIsRefused() async throws {
        let backend = try ScriptedBackend { conn in
            _ = try conn.readStartup()
            try conn.send(ScriptedBackend.message("R", [0, 0, 0, 10] + Array("SCRAM-SHA-256".utf8) + [0, 0]))
            let (_, first) = try conn.readMessage()
            // Extract the client nonce and answer with a valid-looking server-first.
            let text = String(decoding: first, as: UTF8.self)
            let nonce = text.components(separatedBy: "r=").last ?? ""
            try conn.send(ScriptedBackend.message("R", [0, 0, 0, 11] + Array("r=\(nonce)server,s=QSXCR+Q6sek8bf92,i=4096".utf8)))
            _ = try conn.readMessage()
            // A server signature that does not match: the client must refuse.
            try conn.send(ScriptedBackend.message("R", [0, 0, 0, 12] + Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8)))
            try conn.send(ScriptedBackend.startupOk)
        }
        defer { backend.stop() }
        do {
            _ = try await PGConnection.connect(try PGConnectionConfiguration(url: "postgres://u:secret@127.0.0.1:\(backend.port)/db?sslmode=disable"))
            Issue.record("connected to a server that could not prove the password")
        } catch let e as PGError {
            #expect(e.code == .authenticationFailed, "\(e)")
        }
    }

    @Test func scramServerSkippingTheFinalMessageIsRefused() async throws {
        let backend = try ScriptedBackend { conn in
            _ = try conn.readStartup()
            try conn.send(ScriptedBackend.message("R", [0, 0, 0, 10] + Array("SCRAM-SHA-256".utf8) + [0, 0]))
            _ = try conn.readMessage()
            try conn.send(ScriptedBackend.startupOk) // AuthenticationOk without SASLContinue/SASLFinal
        }
        defer { backend.stop() }
        do {
            _ = try await PGConnection.connect(try PGConnectionConfiguration(url: "postgres://u:secret@127.0.0.1:\(backend.port)/db?sslmode=disable"))
            Issue.record("connected")
        } catch let e as PGError {
            #expect(e.code == .authenticationFailed || e.code == .protocolViolation, "\(e)")
        }
    }
}
