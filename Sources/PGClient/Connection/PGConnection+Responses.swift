import Logging
import PGCrypto
import PGTransport
import PGWire
import Synchronization

/// Running the response state machine's actions for the requests in flight.
extension PGConnection {
    func perform(_ action: PGResponseStateMachine.Action) {
        switch action {
        case .none:
            break
        case .row(let unit, let row):
            rowReceived(unit, row)
        case .rowDescription(let unit, let columns):
            flushRowBatch()
            switch contexts[unit] {
            case .execute(let stream):
                stream.setColumns(columns)
                // An unnamed statement's portal was described: ask for these types' formats next time.
                if let statement = stream.execution.statement, statement.name.isEmpty { statement.learnResultFormats(columns) }
            case .simple(let collector): collector.current = PGQueryResult(columns: columns, rows: [], commandTag: "")
            default: break
            }
        case .commandComplete(let unit, let tag):
            flushRowBatch()
            switch contexts[unit] {
            case .execute(let stream), .copyOut(let stream):
                // Completed at ReadyForQuery: a stray message before it still fails this query.
                stream.execution.tag = tag
            case .copyIn(let state):
                state.tag = tag
            case .simple(let collector):
                var result = collector.current ?? PGQueryResult(columns: nil, rows: [], commandTag: "")
                result.commandTag = tag
                collector.results.append(result)
                collector.current = nil
            default: break
            }
        case .emptyQuery(let unit):
            switch contexts[unit] {
            case .execute(let stream): stream.execution.tag = ""
            case .simple(let collector):
                collector.results.append(PGQueryResult(columns: nil, rows: [], commandTag: ""))
            default: break
            }
        case .prepared(let unit, let parameters, let rows):
            guard case .prepare(let statement) = contexts[unit] else { return }
            statement.parameterTypes = parameters
            statement.bindTemplate = nil
            if let rows { statement.learnResultFormats(rows) }
            statement.ready = true
            let waiters = statement.waiters
            statement.waiters = []
            for w in waiters { w.resume() }
        case .failed(let unit, let info):
            flushRowBatch()
            let sessionEnds = Self.endsSession(info)
            // A backend that exits (pg_terminate_backend, shutdown) fails its request the way it fails every other
            // one: as the connection closing, with the server's reason (one shape for callers to check).
            let error = sessionEnds
                ? PGError(code: .connectionClosed, message: "the server ended the session", serverInfo: info)
                : PGError(code: .server, message: info.message, serverInfo: info)
            switch contexts[unit] {
            case .execute(let stream):
                stream.execution.error = error
                if Self.isStaleStatementError(info), let used = stream.execution.statement, !used.name.isEmpty,
                   statements[used.key] === used {
                    if info.sqlState == .invalidSqlStatementName {
                        statementsLost()
                    } else if let statement = uncacheStatement(forKey: used.key) {
                        // Its plan's result type changed (DDL): prepare it again next time; close the old name.
                        logger.debug("re-preparing a statement the server rejected", metadata: ["pg.sqlstate": "\(info.sqlState.rawValue)"])
                        enqueueClose(statement.name)
                    }
                }
            case .prepare(let statement):
                uncacheStatement(statement)
                let waiters = statement.waiters
                statement.waiters = []
                for w in waiters { w.resume(throwing: error) }
            case .simple(let collector):
                collector.error = error
            case .copyOut(let stream):
                stream.execution.error = error
            case .copyIn(let state):
                state.error = error
                state.wakeWriter()
            default:
                break
            }
            if sessionEnds {
                // The backend is exiting (pg_terminate_backend, shutdown, admin action): fail this query with the
                // server's error and every other one as closed, without waiting for the socket to report it.
                // Closed first, so whoever sees this query's error also sees `isClosed`.
                closedFlag.store(true, ordering: .releasing)
                if let context = contexts.removeValue(forKey: unit) {
                    if context.stream?.execution.cancelWhenStarted == true { pendingEarlyCancels -= 1 }
                    fail(context, error)
                }
                closeWithError(PGError(code: .connectionClosed, message: "the server ended the session", serverInfo: info))
            }
        case .done(let unit, let status):
            transactionStatus = status
            if let context = contexts.removeValue(forKey: unit) {
                switch context {
                case .copyIn(let state):
                    state.done()
                case .execute(let stream), .copyOut(let stream):
                    // Read in place: the stream is the request's record, and copying it out costs retains.
                    if stream.execution.cancelWhenStarted { pendingEarlyCancels -= 1 }
                    if let timer = stream.execution.timer {
                        eventLoop.cancelTimer(timer)
                        stream.execution.timer = nil
                    }
                    if var error = stream.execution.error {
                        if stream.execution.timedOut, error.sqlState == .queryCanceled {
                            error = PGError(code: .timeout, message: "the query timed out and was cancelled", serverInfo: error.serverInfo)
                        } else if let server = error.serverInfo, Self.isStaleStatementError(server), status == .idle, !stream.receivedAny {
                            stream.markRecoverable()
                        }
                        stream.finish(.failure(error))
                    } else if let tag = stream.execution.tag {
                        stream.finish(.success(commandTag: tag))
                    } else {
                        stream.finish(.failure(PGError.violation("the statement ended without completing")))
                    }
                case .simple(let collector):
                    if let error = collector.error {
                        collector.continuation?.resume(throwing: error)
                    } else {
                        collector.continuation?.resume(returning: collector.results)
                    }
                    collector.continuation = nil
                case .prepare(let statement):
                    if !statement.ready {
                        uncacheStatement(statement)
                        let error = PGError.violation("the statement was not described")
                        for w in statement.waiters { w.resume(throwing: error) }
                        statement.waiters = []
                    }
                case .closeStatement:
                    break
                }
            }
            // A request queued behind this one whose cancellation (or timeout) came early runs now: cancel it.
            // (Only scanned while such a mark exists: the scan is O(requests in flight).)
            if pendingEarlyCancels > 0, let next = contexts.oldestID, let stream = stream(of: next), stream.execution.cancelWhenStarted {
                stream.execution.cancelWhenStarted = false
                pendingEarlyCancels -= 1
                sendCancelRequest()
            }
        case .copyInReady(let unit, _, _):
            if case .copyIn(let state) = contexts[unit] { state.started() }
        case .copyOutStarted:
            break
        case .copyData(let unit, let bytes):
            perform(.row(unit, PGDataRow(fields: bytes, columnCount: 0)))
        case .rejectCopyIn:
            PGFrontendEncoder.copyFail(reason: "COPY FROM STDIN is not supported by this call; use the COPY API", into: &out)
            eventLoop.scheduleFlush(self)
        case .notice(let info):
            logger.notice("server notice", metadata: ["pg.severity": "\(info.severity ?? "")", "pg.sqlstate": "\(info.sqlState.rawValue)", "pg.message": "\(info.message)"])
        case .notification(let pid, let channel, let payload):
            deliverNotification(PGNotification(channel: channel, payload: payload, processID: pid))
        case .parameterStatus(let name, let value):
            serverParameters[name] = value
        case .violation(let error):
            if error.code == .connectionClosed, let info = error.serverInfo {
                // A FATAL error with nothing in flight: the backend was terminated while idle, or the server is
                // shutting down. Expected in operation (an administrator, a pooler's idle timeout), not a fault.
                logger.info("connection terminated by the server",
                            metadata: ["pg.sqlstate": "\(info.sqlState.rawValue)", "pg.message": "\(info.message)"])
            } else {
                logger.error("protocol violation", metadata: ["error": "\(error.message)"])
            }
            closeWithError(error)
        }
    }

    /// A row for `unit`: batched per read for a streamed result, collected for a simple query.
    @inline(__always)
    func rowReceived(_ unit: UInt64, _ row: PGDataRow) {
        if unit == batchUnit, batchStream != nil {
            batchRows.append(row)
            return
        }
        flushRowBatch()
        switch contexts[unit] {
        case .execute(let stream), .copyOut(let stream):
            batchUnit = unit
            batchStream = stream
            batchRows.append(row)
        case .simple(let collector):
            if let columns = collector.current?.columns {
                collector.current?.rows.append(PGRow(columns: columns, data: row))
            }
        default:
            break
        }
    }

    /// A FATAL or PANIC error: the backend exits after sending it.
    static func endsSession(_ info: PGServerErrorInfo) -> Bool {
        guard let severity = info.severityNonLocalized ?? info.severity else { return false }
        return severity == "FATAL" || severity == "PANIC"
    }

    /// The server no longer has our prepared statement (26000), or its cached plan's result type changed.
    static func isStaleStatementError(_ info: PGServerErrorInfo) -> Bool {
        info.sqlState == .invalidSqlStatementName
            || (info.sqlState == .featureNotSupported && info.message.contains("cached plan must not change result type"))
    }
}
