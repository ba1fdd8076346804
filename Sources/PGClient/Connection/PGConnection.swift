import Logging
import PGCrypto
import PGTransport
import PGWire
import Synchronization
import Tracing

/// One connection to a PostgreSQL server.
///
/// An actor whose executor is its I/O event loop: replies resume waiters on the thread that read them, with no
/// thread hop. Queries issued while others are in flight are pipelined: they go on the wire at once and their
/// replies are matched in order; each ends with its own Sync, so an error fails only its own query.
///
/// ```swift
/// let config = try PGConnectionConfiguration("postgres://app:secret@localhost/appdb")
/// let connection = try await PGConnection.connect(config)
/// let rows = try await connection.query("SELECT $1::int4 + 1", [41])
/// for try await row in rows { print(try row.decode(Int.self, column: 0)) } // 42
/// try await connection.close()
/// ```
public actor PGConnection: PGEventHandler, PGRowStreamOwner {
    /// A process-unique id, used in log metadata.
    public nonisolated let id: Int
    /// The event loop this connection lives on.
    public nonisolated let eventLoop: PGEventLoop
    public nonisolated var unownedExecutor: UnownedSerialExecutor { eventLoop.asUnownedSerialExecutor() }

    nonisolated let configuration: PGConnectionConfiguration
    nonisolated let address: PGSocketAddress
    /// The host name the connection was opened with (TLS's server name; nil for an address or a Unix socket).
    nonisolated let host: String?
    nonisolated let closedFlag = Atomic<Bool>(false)
    var logger: Logger
    let fd: Int32
    /// The TLS session when the connection is encrypted; nil for a plain one (set once, before any I/O).
    nonisolated let tls: PGTLSSession?
    /// The tracer in effect when the connection was opened (bootstrapped, or bound by `withTracer` around
    /// `connect`); nil when it is the no-op tracer, so an untraced query pays one nil check.
    nonisolated let tracer: (any Tracer)?

    @exclusivity(unchecked) var decoder: PGBackendMessageDecoder
    @exclusivity(unchecked) var out: PGWriteBuffer = PGWriteBuffer(capacity: 4096)
    @exclusivity(unchecked) var outOffset = 0
    /// Bytes written before `out`'s first byte (over the connection's life): `outBase + outOffset` bytes have
    /// gone to the socket, `outBase + out.count` have been queued.
    @exclusivity(unchecked) var outBase = 0
    /// The request a deferred cancel is for (0: none); see `sendCancelRequest`.
    @exclusivity(unchecked) var cancelDeferredUnit: UInt64 = 0
    /// The last request whose BindComplete came (ids grow, so every request up to it is bound).
    @exclusivity(unchecked) var lastBoundUnit: UInt64 = 0
    @exclusivity(unchecked) var writeInterest = false
    @exclusivity(unchecked) var readPaused = false
    @exclusivity(unchecked) var fdClosed = false

    enum Phase {
        case startup
        case ready
        case closing
        indirect case closed(PGError)
    }
    @exclusivity(unchecked) var phase: Phase
    /// The start-up exchange's state, until ReadyForQuery (kept out of `phase`, which is read per message).
    var startupMachine: PGStartupStateMachine?
    var startupContinuation: CheckedContinuation<Void, any Error>?
    var startupTimer: UInt64?

    @exclusivity(unchecked) var responses: PGResponseStateMachine = PGResponseStateMachine()
    @exclusivity(unchecked) var nextUnitID: UInt64 = 1
    @exclusivity(unchecked) var contexts: PGUnitTable<Context> = PGUnitTable<Context>() {
        // Published for pools choosing a connection from other threads (a plain store: no lock, no fence).
        didSet {
            let n = contexts.count
            let was = requestsInFlight.load(ordering: .relaxed)  // only the loop's owner stores it
            if n != was {
                eventLoop.requestsInFlightChanged(by: n - was)
                requestsInFlight.store(n, ordering: .relaxed)
            }
        }
    }
    /// How many requests are in flight (sent or queued, not yet answered), as last published by the loop.
    nonisolated let requestsInFlight = Atomic<Int>(0)
    @exclusivity(unchecked) var batchUnit: UInt64 = 0
    @exclusivity(unchecked) var batchStream: PGRowStream?
    @exclusivity(unchecked) var batchRows: [PGDataRow] = []
    /// How many requests in flight are marked `cancelWhenStarted`.
    @exclusivity(unchecked) var pendingEarlyCancels = 0

    var statements: [String: PreparedStatement] = [:]
    /// The statement used last: a repeated statement is found without building and hashing its key.
    @exclusivity(unchecked) var recentStatement: PreparedStatement?
    var statementCounter = 0
    let statementPrefix: String
    @exclusivity(unchecked) var useCounter: UInt64 = 0
    var pinnedStatements: Set<String> = []
    var useUnnamedStatements: Bool
    /// Unnamed mode: the result formats learnt per statement key (at most `statementCacheSize`), and the one
    /// used last (found without building its key).
    var unnamedStatements: [String: PreparedStatement] = [:]
    @exclusivity(unchecked) var recentUnnamed: PreparedStatement?
    /// How often the server lost this connection's named statements (26000 for a statement it had prepared).
    var statementLosses = 0
    /// Whether a connection pooler stands between this connection and PostgreSQL: the backend that answers
    /// is not the one named in BackendKeyData. nil when it was not checked (`preparedStatements` not `.auto`).
    public internal(set) var isBehindPooler: Bool?
    var transactionDepth = 0
    /// User-defined type names resolved to OIDs on this connection.
    var resolvedTypes: [String: PGDataType] = [:]

    /// ParameterStatus values the server reported (server_version, TimeZone, …).
    public internal(set) var serverParameters: [String: String] = [:]
    /// The backend's process id.
    public internal(set) var backendProcessID: Int32 = 0
    var secretKey: [UInt8] = []
    /// The transaction status at the last ReadyForQuery.
    @exclusivity(unchecked) public internal(set) var transactionStatus: PGBackendMessage.TransactionStatus = .idle
    /// The authentication method the server asked for ("trust", "password", "md5", "SCRAM-SHA-256", …).
    public internal(set) var authenticationMethod: String?
    var closeWaiters: [CheckedContinuation<Void, Never>] = []
    /// Writers waiting for the write buffer to drain (COPY FROM flow control).
    var drainWaiters: [CheckedContinuation<Void, Never>] = []
    /// LISTEN subscribers by channel.
    var listeners: [String: [UInt64: AsyncThrowingStream<PGNotification, any Error>.Continuation]] = [:]
    var nextListenerID: UInt64 = 0

    enum Context {
        case prepare(PreparedStatement)
        case execute(PGRowStream)
        case simple(SimpleCollector)
        case closeStatement
        case copyIn(CopyInState)
        case copyOut(PGRowStream)

        /// The row stream of a streamed result (an execute or a COPY TO).
        var stream: PGRowStream? {
            switch self {
            case .execute(let stream), .copyOut(let stream): stream
            default: nil
            }
        }
    }

    /// The stream of request `unit` when it is a streamed result (an execute or a COPY TO), whose `execution`
    /// holds the request's bookkeeping.
    func stream(of unit: UInt64) -> PGRowStream? { contexts[unit]?.stream }

    /// A streamed request's bookkeeping, kept on its row stream (`PGRowStream.execution`). The error, rare, is
    /// boxed so the record stays a few words.
    struct ExecutionInfo {
        /// The cached statement this execution used (an error evicts it only if it is still the cached one).
        var statement: PreparedStatement?
        var timer: UInt64?
        var timedOut = false
        var cancelWhenStarted = false
        /// Where the request's bytes end in the connection's output (`outBase + out.count` once queued).
        var requestEnd = 0
        /// A Flush follows its Bind (a large request): BindComplete says the server has read it.
        var acksBind = false
        var tag: String?
        private var failure: Failure?
        private enum Failure { indirect case error(PGError) }

        init(statement: PreparedStatement? = nil) { self.statement = statement }

        /// The cache key of the statement used (nil for an unnamed one).
        var statementKey: String? { statement?.key }

        var error: PGError? {
            get {
                guard case .error(let e) = failure else { return nil }
                return e
            }
            set { failure = newValue.map { .error($0) } }
        }
    }

    final class PreparedStatement {
        let name: String
        /// The SQL, its cache key, and the types its values were sent as (`.unspecified` entries never match
        /// the fast lookup: those go through the key, which carries the type's name).
        let sql: String
        let key: String
        let bindingTypes: [PGDataType]
        /// False once removed from the cache (evicted, invalidated, or the connection closed).
        var cached = true
        var lastUsed: UInt64 = 0
        var pinned = false
        var parameterTypes: [PGDataType] = []
        var columns: PGRowDescription?
        var resultFormats: [PGFormat] = []
        /// Bind + Execute + Sync's fixed bytes for runs whose values are all binary (made at first such run).
        var bindTemplate: PGBindTemplate?
        var ready = false
        var waiters: [CheckedContinuation<Void, any Error>] = []
        init(name: String, sql: String, key: String, bindings: [any PGEncodable]) {
            self.name = name
            self.sql = sql
            self.key = key
            self.bindingTypes = bindings.map(\.pgDataTypeOfValue)
        }

        /// Asks for the result columns of types Tusk decodes in binary in binary, the rest in text.
        func learnResultFormats(_ rows: PGRowDescription) {
            let formats = rows.columns.map { PGConnection.binaryResultTypes.contains($0.dataType) ? PGFormat.binary : .text }
            let compact: [PGFormat] = formats.allSatisfy({ $0 == .binary }) ? [.binary]
                : formats.allSatisfy({ $0 == .text }) ? [] : formats
            if compact != resultFormats || columns == nil {
                resultFormats = compact
                columns = rows.withFormats(formats)
                bindTemplate = nil
            }
        }

        /// Whether values of these types can be bound to it without building its key (the fast lookup).
        @inline(__always)
        func matches(_ sql: String, _ bindings: [any PGEncodable]) -> Bool {
            guard bindingTypes.count == bindings.count, self.sql == sql else { return false }
            for i in bindings.indices {
                let t = bindings[i].pgDataTypeOfValue
                if t == .unspecified || t != bindingTypes[i] { return false }
            }
            return true
        }
    }

    final class SimpleCollector {
        var results: [PGQueryResult] = []
        var current: PGQueryResult?
        var error: PGError?
        var continuation: CheckedContinuation<[PGQueryResult], any Error>?
    }

    private static let idCounter = Atomic<Int>(0)

    init(
        fd: Int32, address: PGSocketAddress, host: String? = nil, loop: PGEventLoop, configuration: PGConnectionConfiguration,
        logger: Logger, tls: PGTLSSession? = nil, startup: PGStartupStateMachine? = nil
    ) {
        self.id = Self.idCounter.add(1, ordering: .relaxed).newValue
        self.fd = fd
        self.tls = tls
        self.address = address
        self.host = host
        self.eventLoop = loop
        self.configuration = configuration
        let tracer = InstrumentationSystem.tracer
        self.tracer = tracer is NoOpTracer ? nil : tracer
        var logger = logger
        logger[metadataKey: "pg.connection.id"] = "\(id)"
        self.logger = logger
        self.decoder = PGBackendMessageDecoder(maxMessageLength: configuration.maxMessageLength)
        self.phase = .startup
        self.startupMachine = startup ?? PGStartupStateMachine(user: configuration.user, password: configuration.password)
        let random = (try? PGSecureRandom.bytes(6)) ?? []
        self.useUnnamedStatements = configuration.statementCacheSize == 0 || configuration.preparedStatements == .unnamed
        self.statementPrefix = "tusk_" + random.map { String($0, radix: 16).leftPad(2) }.joined() + "_"
    }

    /// True once the connection has closed (by `close()`, the server, or an error).
    public nonisolated var isClosed: Bool { closedFlag.load(ordering: .acquiring) }

    // MARK: Event loop callbacks

    public nonisolated func eventLoopReadable() { onLoop((), LoopCall { c, _ in c.readable() }) }
    public nonisolated func eventLoopWritable() { onLoop((), LoopCall { c, _ in c.flush() }) }
    public nonisolated func eventLoopFlush() { onLoop((), LoopCall { c, _ in c.flush() }) }

    func readable() {
        let tls = self.tls
        var rounds = 0
        while !fdClosed && !readPaused {
            var failure: Int32 = 0
            let capacity = decoder.preferredReadSize
            let n = decoder.readFrom(capacity: capacity) { pointer, capacity in
                let result = tls?.read(into: pointer, capacity: capacity) ?? PGSocket.read(fd, into: pointer, capacity: capacity)
                switch result {
                case .bytes(let n): return n
                case .wouldBlock: return -1
                case .endOfStream: return 0
                case .error(let e):
                    failure = e
                    return -2
                }
            }
            if n == -1 { return }
            if n == 0 || n == -2 {
                inputEnded(underlying: n == 0 ? "end of stream" : (tls?.lastError ?? PGSocket.errorDescription(failure)))
                return
            }
            processMessages()
            rounds += 1
            if let tls {
                // Bytes OpenSSL holds raise no epoll event, so keep reading while it holds some. When it holds none,
                // stop: the (level-triggered) loop reports the socket again if more arrived, and an extra SSL_read
                // would cost a recv that returns EAGAIN.
                if !tls.hasBufferedData { return }
            } else if n < capacity || rounds >= 8 {
                return
            }
        }
    }

    /// The socket (or TLS session) ended or failed: decode what arrived before (e.g. a FATAL ErrorResponse
    /// explaining it), then close.
    func inputEnded(underlying: String) {
        processMessages()
        if fdClosed { return }
        closeWithError(PGError(code: .connectionClosed, message: "the server closed the connection", underlying: underlying))
    }

    func processMessages() {
        do {
            while !fdClosed, let frame = try decoder.nextFrame() {
                // DataRows of the result being read (the bulk of the traffic) skip the message enum and the
                // state machine's action: the machine says which unit takes them and how many columns they have.
                if frame.type == UInt8(ascii: "D"), responses.rowUnit != 0 {
                    let row = try decoder.dataRow(frame)
                    if row.columnCount == responses.rowColumns {
                        rowReceived(responses.rowUnit, row)
                    } else {
                        handle(.dataRow(row))  // the machine reports the column-count violation
                    }
                    continue
                }
                handle(try decoder.message(frame))
            }
        } catch {
            closeWithError(error)
        }
        flushRowBatch()
    }

    func handle(_ message: PGBackendMessage) {
        switch phase {
        case .ready, .closing:
            if case .bindComplete = message {
                lastBoundUnit = contexts.oldestID ?? lastBoundUnit
                if cancelDeferredUnit != 0 { retryDeferredCancel() }
            }
            perform(responses.messageReceived(message))
        case .startup:
            guard var machine = startupMachine else { return }
            let action = machine.messageReceived(message)
            startupMachine = machine
            switch action {
            case .send(let bytes):
                out.writeBytes(bytes)
                eventLoop.scheduleFlush(self)
            case .wait:
                break
            case .notice(let info):
                logger.notice("server notice", metadata: ["pg.severity": "\(info.severity ?? "")", "pg.message": "\(info.message)"])
            case .fail(let error):
                authenticationMethod = machine.authenticationMethod  // nil: rejected before any authentication request
                closeWithError(error)
            case .ready(let result):
                authenticationMethod = machine.authenticationMethod
                serverParameters = result.parameters
                backendProcessID = result.processID
                secretKey = result.secretKey
                transactionStatus = result.transactionStatus
                phase = .ready
                startupMachine = nil
                if let t = startupTimer { eventLoop.cancelTimer(t) }
                startupTimer = nil
                logger.debug("connected", metadata: ["pg.address": "\(address)", "pg.backend_pid": "\(result.processID)"])
                startupContinuation?.resume()
                startupContinuation = nil
            }
        case .closed:
            break
        }
    }

    func flushRowBatch() {
        guard let stream = batchStream else { return }
        let rows = batchRows
        batchRows = []
        batchStream = nil
        batchUnit = 0
        if !stream.push(rows) && !readPaused {
            readPaused = true
            eventLoop.setInterest(fd: fd, read: false, write: writeInterest)
        }
    }

    func resumeReading() {
        guard readPaused, !fdClosed else { return }
        readPaused = false
        eventLoop.setInterest(fd: fd, read: true, write: writeInterest)
        readable()
    }

    func flush() {
        guard !fdClosed, outOffset < out.count else { return }
        if let tls {
            flushTLS(tls)
            return
        }
        // The closure reads locals only: one touching the actor's state gets a run-time executor check.
        let fd = self.fd
        let offset = outOffset
        let result = out.bytes.withUnsafeBytes { raw in
            PGSocket.write(fd, from: raw.baseAddress! + offset, count: raw.count - offset)
        }
        switch result {
        case .bytes(let n):
            outOffset += n
            if outOffset == out.count {
                outBase &+= out.count
                out.clear()
                outOffset = 0
                if !drainWaiters.isEmpty { resumeDrainWaiters() }
                if writeInterest {
                    writeInterest = false
                    eventLoop.setInterest(fd: fd, read: !readPaused, write: false)
                }
            } else if !writeInterest {
                writeInterest = true
                eventLoop.setInterest(fd: fd, read: !readPaused, write: true)
            }
            if cancelDeferredUnit != 0 { retryDeferredCancel() }
        case .wouldBlock:
            if !writeInterest {
                writeInterest = true
                eventLoop.setInterest(fd: fd, read: !readPaused, write: true)
            }
        case .endOfStream, .error:
            var underlying = "write failed"
            if case .error(let e) = result { underlying = PGSocket.errorDescription(e) }
            // Read what the server may have said before closing (e.g. a FATAL error), then close.
            readable()
            if !fdClosed {
                closeWithError(PGError(code: .connectionClosed, message: "the connection was closed while writing", underlying: underlying))
            }
        }
    }

    // MARK: Closing

    func closeWithError(_ error: PGError) {
        if case .closed = phase { return }
        phase = .closed(error)
        closedFlag.store(true, ordering: .releasing)
        startupMachine = nil
        if !fdClosed {
            eventLoop.deregister(fd: fd)
            tls?.shutdown()
            PGSocket.close(fd)
            fdClosed = true
        }
        if let t = startupTimer {
            eventLoop.cancelTimer(t)
            startupTimer = nil
        }
        startupContinuation?.resume(throwing: error)
        startupContinuation = nil
        batchStream = nil
        batchRows = []
        for unit in responses.drainAll() {
            guard let context = contexts.removeValue(forKey: unit) else { continue }
            fail(context, error)
        }
        for context in contexts.allValues { fail(context, error) }
        contexts.removeAll()
        pendingEarlyCancels = 0
        for (_, statement) in statements {
            statement.cached = false
            for w in statement.waiters { w.resume(throwing: error) }
            statement.waiters = []
        }
        statements.removeAll()
        recentStatement = nil
        unnamedStatements.removeAll()
        recentUnnamed = nil
        for w in closeWaiters { w.resume() }
        closeWaiters.removeAll()
        resumeDrainWaiters()
        finishListeners(error)
        if error.code != .connectionClosed || error.underlying != nil {
            logger.debug("connection closed", metadata: ["error": "\(error)"])
        }
    }

    func fail(_ context: Context, _ error: PGError) {
        switch context {
        case .execute(let stream), .copyOut(let stream):
            if let t = stream.execution.timer {
                eventLoop.cancelTimer(t)
                stream.execution.timer = nil
            }
            stream.finish(.failure(error))
        case .copyIn(let state):
            state.error = error
            state.done()
        case .simple(let collector):
            collector.continuation?.resume(throwing: error)
            collector.continuation = nil
        case .prepare, .closeStatement: break
        }
    }

    /// Closes the connection: sends Terminate after the requests already queued, then closes the socket.
    /// Requests still in flight fail with `.connectionClosed`. Safe to call more than once.
    public func close() async {
        guard case .ready = phase else {
            if case .startup = phase { closeWithError(.closed("the connection was closed during start-up")) }
            return
        }
        phase = .closing
        PGFrontendEncoder.terminate(into: &out)
        flush()
        closeWithError(.closed("the connection was closed by the client"))
    }

    /// Closes once the requests already queued have finished (waiting at most `timeout`), then sends Terminate.
    func closeAfterPendingRequests(timeout: Duration = .seconds(30)) async {
        let deadline = ContinuousClock.now + timeout
        while !contexts.isEmpty, ContinuousClock.now < deadline, case .ready = phase {
            try? await Task.sleep(for: .milliseconds(2))
        }
        await close()
    }

    /// Requests sent and not yet answered.
    var pendingRequestCount: Int { contexts.count }

    /// Returns once the connection has closed, for whatever reason (at once if it is closed already).
    ///
    /// ```swift
    /// Task { await connection.waitUntilClosed(); print("gone:", await connection.closeError as Any) }
    /// ```
    public func waitUntilClosed() async {
        if case .closed = phase { return }
        await withCheckedContinuation { closeWaiters.append($0) }
    }

    /// The error that closed the connection, if it is closed.
    public var closeError: PGError? {
        if case .closed(let e) = phase { return e }
        return nil
    }

    func ensureOpen() throws(PGError) {
        switch phase {
        case .ready: return
        case .closed(let e):
            // The server's reason (57P01 after pg_terminate_backend, 57P02/57P03 at shutdown) stays readable.
            throw PGError(code: .connectionClosed, message: "the connection is closed", serverInfo: e.serverInfo, isSafeToRetry: true,
                          underlying: e.description)
        case .closing:
            throw PGError(code: .connectionClosed, message: "the connection is closing", isSafeToRetry: true)
        case .startup:
            throw PGError(code: .misuse, message: "the connection has not finished starting up")
        }
    }

    // Result types Tusk decodes in binary; everything else is requested as text.
    static let binaryResultTypes: Set<PGDataType> = [
        .bool, .bytea, .int8, .int2, .int4, .text, .oid, .float4, .float8, .varchar, .bpchar, .name,
        .date, .timestamp, .timestamptz, .uuid,
        .numeric, .time, .interval, .json, .jsonb, .inet, .cidr,
        .int4range, .int8range, .numrange, .tsrange, .tstzrange, .daterange,
        // Arrays of the above.
        .boolArray, .byteaArray, .charArray, .nameArray, .int2Array, .int4Array, .textArray, .bpcharArray,
        .varcharArray, .int8Array, .float4Array, .float8Array, .oidArray, .numericArray, .dateArray, .timeArray, .timestampArray,
        .timestamptzArray, .intervalArray, .uuidArray, .jsonArray, .jsonbArray, .inetArray, .cidrArray,
        .int4rangeArray, .int8rangeArray, .numrangeArray, .tsrangeArray, .tstzrangeArray, .daterangeArray,
    ]

    func makeUnitID() -> UInt64 {
        let id = nextUnitID
        nextUnitID += 1
        return id
    }
}

extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
