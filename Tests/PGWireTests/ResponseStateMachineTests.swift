import Testing
@testable import PGWire

/// Transcripts: requests sent, messages received, actions expected.
@Suite struct ResponseStateMachineTests {
    func decode(_ bytes: [UInt8]) throws -> PGBackendMessage {
        var d = PGBackendMessageDecoder()
        d.append(bytes)
        return try #require(try d.nextMessage())
    }

    func feed(_ m: inout PGResponseStateMachine, _ bytes: [UInt8]) throws -> PGResponseStateMachine.Action {
        m.messageReceived(try decode(bytes))
    }

    @Test func prepareThenExecute() throws {
        var m = PGResponseStateMachine()
        m.unitSent(.init(id: 1, kind: .prepare))
        #expect(try feed(&m, Server.message("1", [])).isNone)
        #expect(try feed(&m, Server.message("t", Server.int16(1) + Server.int32(23))).isNone)
        guard case .prepared(1, let params, let rows?) = try feed(&m, Server.rowDescription([("x", 23)])) else {
            Issue.record("expected prepared"); return
        }
        #expect(params == [.int4])
        #expect(rows.columns.map(\.name) == ["x"])
        guard case .done(1, .idle) = try feed(&m, Server.readyForQuery()) else { Issue.record("done"); return }

        m.unitSent(.init(id: 2, kind: .execute(parses: false, describesPortal: false, columnCount: 1)))
        #expect(try feed(&m, Server.message("2", [])).isNone)
        guard case .row(2, let row) = try feed(&m, Server.dataRow([[0, 0, 0, 5]])) else { Issue.record("row"); return }
        #expect(row.field(at: 0) == [0, 0, 0, 5][...])
        guard case .commandComplete(2, "SELECT 1") = try feed(&m, Server.commandComplete("SELECT 1")) else { Issue.record("cc"); return }
        guard case .done(2, _) = try feed(&m, Server.readyForQuery()) else { Issue.record("done2"); return }
        #expect(m.pendingCount == 0)
    }

    @Test func pipelinedErrorFailsOnlyItsOwnUnit() throws {
        var m = PGResponseStateMachine()
        for id in 1...3 as ClosedRange<UInt64> {
            m.unitSent(.init(id: id, kind: .execute(parses: false, describesPortal: false, columnCount: 1)))
        }
        _ = try feed(&m, Server.message("2", []))
        _ = try feed(&m, Server.dataRow([[1]]))
        _ = try feed(&m, Server.commandComplete("SELECT 1"))
        guard case .done(1, _) = try feed(&m, Server.readyForQuery()) else { Issue.record("1"); return }
        _ = try feed(&m, Server.message("2", []))
        guard case .failed(2, let info) = try feed(&m, Server.error("22012", "division by zero")) else { Issue.record("2"); return }
        #expect(info.sqlState.rawValue == "22012")
        guard case .done(2, _) = try feed(&m, Server.readyForQuery()) else { Issue.record("2 done"); return }
        _ = try feed(&m, Server.message("2", []))
        guard case .row(3, _) = try feed(&m, Server.dataRow([[3]])) else { Issue.record("3"); return }
        _ = try feed(&m, Server.commandComplete("SELECT 1"))
        guard case .done(3, _) = try feed(&m, Server.readyForQuery()) else { Issue.record("3 done"); return }
    }

    @Test func simpleQueryWithSeveralStatements() throws {
        var m = PGResponseStateMachine()
        m.unitSent(.init(id: 7, kind: .simple))
        guard case .commandComplete(7, "CREATE TABLE") = try feed(&m, Server.commandComplete("CREATE TABLE")) else { Issue.record("a"); return }
        guard case .rowDescription(7, _) = try feed(&m, Server.rowDescription([("a", 25), ("b", 25)])) else { Issue.record("b"); return }
        guard case .row(7, _) = try feed(&m, Server.dataRow([Array("x".utf8), nil])) else { Issue.record("c"); return }
        guard case .commandComplete(7, "SELECT 1") = try feed(&m, Server.commandComplete("SELECT 1")) else { Issue.record("d"); return }
        guard case .emptyQuery(7) = try feed(&m, Server.message("I", [])) else { Issue.record("e"); return }
        guard case .done(7, _) = try feed(&m, Server.readyForQuery()) else { Issue.record("f"); return }
    }

    @Test func asynchronousMessagesPassThroughAnytime() throws {
        var m = PGResponseStateMachine()
        guard case .notification(5, "c", "p") = try feed(&m, Server.message("A", Server.int32(5) + Server.cstring("c") + Server.cstring("p"))) else {
            Issue.record("notification"); return
        }
        guard case .parameterStatus("TimeZone", "UTC") = try feed(&m, Server.message("S", Server.cstring("TimeZone") + Server.cstring("UTC"))) else {
            Issue.record("ps"); return
        }
    }

    @Test func dataRowBeforeRowDescriptionIsAViolation() throws {
        var m = PGResponseStateMachine()
        m.unitSent(.init(id: 1, kind: .simple))
        guard case .violation = try feed(&m, Server.dataRow([[1]])) else { Issue.record("expected violation"); return }
        // The machine stays broken.
        guard case .violation = try feed(&m, Server.readyForQuery()) else { Issue.record("still broken"); return }
    }

    @Test func fieldCountMismatchIsAViolation() throws {
        var m = PGResponseStateMachine()
        m.unitSent(.init(id: 1, kind: .execute(parses: false, describesPortal: false, columnCount: 2)))
        _ = try feed(&m, Server.message("2", []))
        guard case .violation(let e) = try feed(&m, Server.dataRow([[1]])) else { Issue.record("expected violation"); return }
        #expect(e.code == .protocolViolation)
    }

    @Test func secondReadyForQueryIsAViolation() throws {
        var m = PGResponseStateMachine()
        m.unitSent(.init(id: 1, kind: .simple))
        _ = try feed(&m, Server.commandComplete("SELECT 1"))
        guard case .done = try feed(&m, Server.readyForQuery()) else { Issue.record("done"); return }
        guard case .violation = try feed(&m, Server.readyForQuery()) else { Issue.record("expected violation"); return }
    }

    @Test func strayCommandCompleteIsAViolation() throws {
        var m = PGResponseStateMachine()
        guard case .violation = try feed(&m, Server.commandComplete("SELECT 1")) else { Issue.record("expected violation"); return }
    }

    @Test func fatalErrorWhileIdleClosesTheConnection() throws {
        var m = PGResponseStateMachine()
        guard case .violation(let e) = try feed(&m, Server.error("57P01", "terminating connection due to administrator command", severity: "FATAL")) else {
            Issue.record("expected close"); return
        }
        #expect(e.code == .connectionClosed)
        #expect(e.serverInfo?.sqlState.rawValue == "57P01")
    }

    @Test func unexpectedCopyInIsRejected() throws {
        var m = PGResponseStateMachine()
        m.unitSent(.init(id: 1, kind: .simple))
        guard case .rejectCopyIn(1) = try feed(&m, Server.message("G", [0] + Server.int16(0))) else { Issue.record("copy"); return }
        guard case .failed(1, _) = try feed(&m, Server.error("57014", "COPY from stdin failed")) else { Issue.record("fail"); return }
        guard case .done(1, _) = try feed(&m, Server.readyForQuery()) else { Issue.record("done"); return }
    }

    @Test func drainAllReturnsEveryPendingUnit() {
        var m = PGResponseStateMachine()
        m.unitSent(.init(id: 1, kind: .simple))
        m.unitSent(.init(id: 2, kind: .simple))
        _ = m.messageReceived(.commandComplete(tag: "SELECT 1"))
        #expect(m.drainAll() == [1, 2])
        #expect(m.pendingCount == 0)
    }
}

extension PGResponseStateMachine.Action {
    var isNone: Bool { if case .none = self { true } else { false } }
}
