/// Matches the server's responses to the requests that were sent, in order.
///
/// Every request ends in its own Sync (or is a simple Query), so the server answers each with one
/// ReadyForQuery: a *unit*. The connection registers a unit when it writes the request and feeds every
/// backend message here; the machine says which unit a message belongs to and rejects any message the unit's
/// current state does not allow. Pure: no I/O, no continuations — units are identified by ids.
///
/// ```swift
/// var machine = PGResponseStateMachine()
/// machine.unitSent(.init(id: 1, kind: .simple))
/// let action = machine.messageReceived(.commandComplete(tag: "SELECT 1"))
/// ```
public struct PGResponseStateMachine: Sendable {
    /// What a unit's request contained, which tells which replies to expect.
    public enum Kind: Sendable, Equatable {
        /// Parse + Describe(statement) + Sync.
        case prepare
        /// [Parse] + Bind + [Describe(portal)] + Execute + Sync. `columnCount` is known from a cached
        /// description (nil when the statement returns no rows, or when `describesPortal` is set).
        case execute(parses: Bool, describesPortal: Bool, columnCount: Int?)
        /// A simple Query message (may contain several statements).
        case simple
        /// Close(statement) + Sync.
        case closeStatement
        /// A simple Query running `COPY … FROM STDIN`: the server asks for data, the client streams it.
        case copyIn
        /// A simple Query running `COPY … TO STDOUT`: the server streams CopyData.
        case copyOut
    }

    /// A request on the wire.
    public struct Unit: Sendable {
        public var id: UInt64
        public var kind: Kind
        public init(id: UInt64, kind: Kind) {
            self.id = id
            self.kind = kind
        }
    }

    /// What the connection must do for a message.
    public enum Action: Sendable {
        /// Nothing visible (e.g. ParseComplete, BindComplete).
        case none
        /// A result's columns are known (simple queries: a new result set starts; execute with describe).
        case rowDescription(UInt64, PGRowDescription)
        /// A row for the unit.
        case row(UInt64, PGDataRow)
        /// A statement finished with this command tag.
        case commandComplete(UInt64, String)
        /// An empty query string was executed.
        case emptyQuery(UInt64)
        /// A prepare finished describing: parameter types and the row description (nil: no rows).
        case prepared(UInt64, parameters: [PGDataType], rows: PGRowDescription?)
        /// The server reported an error for the unit; the unit still waits for its ReadyForQuery.
        indirect case failed(UInt64, PGServerErrorInfo)
        /// The unit is finished (its ReadyForQuery arrived).
        case done(UInt64, PGBackendMessage.TransactionStatus)
        /// The server wants COPY data for a request that did not ask for it: answer with CopyFail.
        case rejectCopyIn(UInt64)
        /// The server is ready for the unit's COPY data (CopyInResponse).
        case copyInReady(UInt64, format: PGFormat, columnFormats: [PGFormat])
        /// The server started sending the unit's COPY data (CopyOutResponse).
        case copyOutStarted(UInt64, format: PGFormat, columnFormats: [PGFormat])
        /// One CopyData message of a COPY TO.
        case copyData(UInt64, ArraySlice<UInt8>)
        /// A NoticeResponse to log.
        indirect case notice(PGServerErrorInfo)
        /// A NotificationResponse (LISTEN/NOTIFY).
        case notification(processID: Int32, channel: String, payload: String)
        /// A run-time parameter changed.
        case parameterStatus(name: String, value: String)
        /// The server broke the protocol: fail everything and close the connection.
        indirect case violation(PGError)
    }

    enum Stage: Sendable, Equatable {
        case start
        case parsed
        case bound
        /// The statement's parameter types are in `describedParameters` (kept out of the stage so that the
        /// stage, copied for every message, stays plain data).
        case paramsDescribed
        case rows(columns: Int)
        case noRows
        case finished
        case failed
        case copyOut
        case copyOutDone
        case copyIn
        case copyInRejected
    }

    struct Active: Sendable {
        var unit: Unit
        var stage: Stage
    }

    private var queue: [Unit] = []
    private var describedParameters: [PGDataType] = []
    private var head = 0
    private var active: Active?
    private var broken = false

    /// Creates an empty machine.
    public init() {}

    /// Number of units awaiting their ReadyForQuery.
    public var pendingCount: Int { queue.count - head + (active == nil ? 0 : 1) }

    /// A request was written to the wire.
    public mutating func unitSent(_ unit: Unit) {
        queue.append(unit)
    }

    /// The ids of every unit still waiting (for failing them all when the connection closes).
    public mutating func drainAll() -> [UInt64] {
        var ids: [UInt64] = []
        if let a = active { ids.append(a.unit.id) }
        ids.append(contentsOf: queue[head...].map(\.id))
        active = nil
        queue.removeAll()
        head = 0
        describedParameters = []
        rowUnit = 0
        rowColumns = -1
        return ids
    }

    private mutating func activate() -> Bool {
        if active != nil { return true }
        guard head < queue.count else { return false }
        active = Active(unit: queue[head], stage: .start)
        head += 1
        if head > 64 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return true
    }

    private mutating func violation(_ message: String) -> Action {
        broken = true
        return .violation(.violation(message))
    }

    /// The unit whose DataRows are expected now (0: none) and their column count. A DataRow with exactly that
    /// many columns is that unit's next row and changes no state, so the connection may take it without
    /// building a message or an action; anything else goes through `messageReceived`.
    public private(set) var rowUnit: UInt64 = 0
    /// The column count DataRows must have while `rowUnit` is set.
    public private(set) var rowColumns: Int = -1

    /// Feeds one backend message.
    public mutating func messageReceived(_ message: PGBackendMessage) -> Action {
        let action = receive(message)
        if !broken, let a = active, case .rows(let n) = a.stage, a.unit.kind != .copyIn {
            rowUnit = a.unit.id
            rowColumns = n
        } else {
            rowUnit = 0
            rowColumns = -1
        }
        return action
    }

    private mutating func receive(_ message: PGBackendMessage) -> Action {
        if broken { return .violation(.violation("message after a protocol violation")) }
        // Messages that may arrive at any time.
        switch message {
        case .noticeResponse(let info): return .notice(info)
        case .notificationResponse(let pid, let channel, let payload):
            return .notification(processID: pid, channel: channel, payload: payload)
        case .parameterStatus(let name, let value): return .parameterStatus(name: name, value: value)
        default: break
        }
        guard activate(), var a = active else {
            if case .errorResponse(let info) = message, info.severity == "FATAL" || info.severityNonLocalized == "FATAL" {
                // e.g. the server is shutting down or the backend was terminated while idle.
                return .violation(PGError(code: .connectionClosed, message: "the server closed the session", serverInfo: info))
            }
            return violation("unexpected \(message.name) with no request in flight")
        }
        let id = a.unit.id
        defer { if active != nil { active = a } }

        switch message {
        case .readyForQuery(let status):
            switch a.stage {
            case .finished, .failed, .copyInRejected:
                active = nil
                return .done(id, status)
            case .start where a.unit.kind == .simple:
                return violation("ReadyForQuery before any result of a simple query")
            case .paramsDescribed, .start, .parsed, .bound, .rows, .noRows, .copyOut, .copyOutDone, .copyIn:
                if a.unit.kind == .simple, case .noRows = a.stage {
                    active = nil
                    return .done(id, status)
                }
                return violation("ReadyForQuery arrived before the request completed")
            }
        case .errorResponse(let info):
            if a.stage == .finished || a.stage == .failed {
                return violation("ErrorResponse after the request completed")
            }
            a.stage = .failed
            return .failed(id, info)
        default:
            break
        }
        if a.stage == .failed || a.stage == .finished {
            // After an error the server skips to Sync; after completion only ReadyForQuery may follow.
            if a.unit.kind == .simple, a.stage == .finished {
                // simple query: a further statement's results may follow
                a.stage = .noRows
                return simpleStatement(&a, message)
            }
            return violation("unexpected \(message.name) after the request completed")
        }

        switch a.unit.kind {
        case .prepare:
            switch (a.stage, message) {
            case (.start, .parseComplete):
                a.stage = .parsed
                return .none
            case (.parsed, .parameterDescription(let types)):
                a.stage = .paramsDescribed
                describedParameters = types
                return .none
            case (.paramsDescribed, .rowDescription(let desc)):
                a.stage = .finished
                defer { describedParameters = [] }
                return .prepared(id, parameters: describedParameters, rows: desc)
            case (.paramsDescribed, .noData):
                a.stage = .finished
                defer { describedParameters = [] }
                return .prepared(id, parameters: describedParameters, rows: nil)
            default:
                return violation("unexpected \(message.name) while preparing a statement")
            }
        case .execute(let parses, let describesPortal, let columnCount):
            switch (a.stage, message) {
            case (.start, .parseComplete) where parses:
                a.stage = .parsed
                return .none
            case (.start, .bindComplete) where !parses, (.parsed, .bindComplete):
                if describesPortal {
                    a.stage = .bound
                } else if let n = columnCount {
                    a.stage = .rows(columns: n)
                } else {
                    a.stage = .noRows
                }
                return .none
            case (.bound, .rowDescription(let desc)):
                a.stage = .rows(columns: desc.columns.count)
                return .rowDescription(id, desc)
            case (.bound, .noData):
                a.stage = .noRows
                return .none
            case (.rows(let n), .dataRow(let row)):
                guard row.columnCount == n else {
                    return violation("DataRow has \(row.columnCount) columns but RowDescription has \(n)")
                }
                return .row(id, row)
            case (.noRows, .dataRow):
                return violation("DataRow for a statement that returns no rows")
            case (.rows, .commandComplete(let tag)), (.noRows, .commandComplete(let tag)):
                a.stage = .finished
                return .commandComplete(id, tag)
            case (.rows, .emptyQueryResponse), (.noRows, .emptyQueryResponse):
                a.stage = .finished
                return .emptyQuery(id)
            case (.rows, .portalSuspended), (.noRows, .portalSuspended):
                a.stage = .finished
                return .commandComplete(id, "")
            case (.rows, .copyInResponse), (.noRows, .copyInResponse):
                a.stage = .copyInRejected
                return .rejectCopyIn(id)
            case (.rows, .copyOutResponse), (.noRows, .copyOutResponse):
                a.stage = .copyOut
                return .none
            case (.copyOut, .copyData):
                return .none
            case (.copyOut, .copyDone):
                a.stage = .noRows
                return .none
            case (.start, .dataRow), (.parsed, .dataRow), (.bound, .dataRow):
                return violation("DataRow before RowDescription")
            default:
                return violation("unexpected \(message.name) while executing a statement")
            }
        case .simple:
            if a.stage == .start { a.stage = .noRows }
            return simpleStatement(&a, message)
        case .copyIn:
            switch (a.stage, message) {
            case (.start, .copyInResponse(let format, let columns)):
                a.stage = .copyIn
                return .copyInReady(id, format: format, columnFormats: columns)
            case (.copyIn, .commandComplete(let tag)):
                a.stage = .finished
                return .commandComplete(id, tag)
            default:
                return violation("unexpected \(message.name) during COPY FROM STDIN")
            }
        case .copyOut:
            switch (a.stage, message) {
            case (.start, .copyOutResponse(let format, let columns)):
                a.stage = .copyOut
                return .copyOutStarted(id, format: format, columnFormats: columns)
            case (.copyOut, .copyData(let bytes)):
                return .copyData(id, bytes)
            case (.copyOut, .copyDone):
                a.stage = .copyOutDone
                return .none
            case (.copyOutDone, .commandComplete(let tag)):
                a.stage = .finished
                return .commandComplete(id, tag)
            default:
                return violation("unexpected \(message.name) during COPY TO STDOUT")
            }
        case .closeStatement:
            guard a.stage == .start, case .closeComplete = message else {
                return violation("unexpected \(message.name) while closing a statement")
            }
            a.stage = .finished
            return .none
        }
    }

    private mutating func simpleStatement(_ a: inout Active, _ message: PGBackendMessage) -> Action {
        let id = a.unit.id
        switch (a.stage, message) {
        case (.noRows, .rowDescription(let desc)):
            a.stage = .rows(columns: desc.columns.count)
            return .rowDescription(id, desc)
        case (.rows(let n), .dataRow(let row)):
            guard row.columnCount == n else {
                return violation("DataRow has \(row.columnCount) columns but RowDescription has \(n)")
            }
            return .row(id, row)
        case (.noRows, .dataRow):
            return violation("DataRow before RowDescription")
        case (.rows, .commandComplete(let tag)), (.noRows, .commandComplete(let tag)):
            a.stage = .finished
            return .commandComplete(id, tag)
        case (.noRows, .emptyQueryResponse):
            a.stage = .finished
            return .emptyQuery(id)
        case (.noRows, .copyInResponse):
            a.stage = .copyInRejected
            return .rejectCopyIn(id)
        case (.noRows, .copyOutResponse):
            a.stage = .copyOut
            return .none
        case (.copyOut, .copyData):
            return .none
        case (.copyOut, .copyDone):
            a.stage = .noRows
            return .none
        default:
            return violation("unexpected \(message.name) in a simple query's results")
        }
    }
}
