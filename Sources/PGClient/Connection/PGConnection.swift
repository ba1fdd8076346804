import Logging
import PGCrypto
import PGTransport
import PGWire
import Synchronization

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
public actor PGConnection: PGEventHandler {
    /// A process-unique id, used in log metadata.
    public nonisolated let id: Int
    /// The event loop this connection lives on.
    public nonisolated let eventLoop: PGEventLoop
    public nonisolated var unownedExecutor: UnownedSerialExecutor { eventLoop.asUnownedSerialExecutor() }

    nonisolated let configuration: PGConnectionConfiguration
    nonisolated let address: PGSocketAddress
    nonisolated let closedFlag = Atomic<Bool>(false)
    var logger: Logger
    let fd: Int32
    /// The TLS session when the connection is encrypted; nil for a plain one (set once, before any I/O).
    nonisolated let tls: PGTLSSession?

    var decoder: PGBackendMessageDecoder
    var out = PGWriteBuffer(capacity: 4096)
    var outOffset = 0
    var writeInterest = false
    var readPaused = false
    var fdClosed = false

    enum Phase {
        case startup(PGStartupStateMachine)
        case ready
        case closing
        case closed(PGError)
    }
    var phase: Phase
    var startupContinuation: CheckedContinuation<Void, any Error>?
    var startupTimer: UInt64?

    var responses = PGResponseStateMachine()
    var nextUnitID: UInt64 = 1
    var contexts: [UInt64: Context] = [:]
    var batchUnit: UInt64 = 0
    var batchStream: PGRowStream?
    var batchRows: [PGDataRow] = []
    /// Per execute request: its statement, timeout timer, and the outcome held until ReadyForQuery.
    var executions: [UInt64: ExecutionInfo] = [:]

    var statements: [String: PreparedStatement] = [:]
    var statementCounter = 0
    let statementPrefix: String
    var useCounter: UInt64 = 0
    var pinnedStatements: Set<String> = []
    var useUnnamedStatements: Bool
    var transactionDepth = 0
    /// User-defined type names resolved to OIDs on this connection.
    var resolvedTypes: [String: PGDataType] = [:]

    /// ParameterStatus values the server reported (server_version, TimeZone, …).
    public private(set) var serverParameters: [String: String] = [:]
    /// The backend's process id.
    public private(set) var backendProcessID: Int32 = 0
    var secretKey: [UInt8] = []
    /// The transaction status at the last ReadyForQuery.
    public private(set) var transactionStatus: PGBackendMessage.TransactionStatus = .idle
    /// The authentication method the server asked for ("trust", "password", "md5", "SCRAM-SHA-256", …).
    public private(set) var authenticationMethod: String?
    var closeWaiters: [CheckedContinuation<Void, Never>] = []
    /// Writers waiting for the write buffer to drain (COPY FROM flow control).
    var drainWaiters: [CheckedContinuation<Void, Never>] = []
    /// LISTEN subscribers by channel.
    var listeners: [String: [UInt64: AsyncThrowingStream<PGNotification, any Error>.Continuation]] = [:]
    var nextListenerID: UInt64 = 0

    enum Context {
        case prepare(key: String)
        case execute(PGRowStream)
        case simple(SimpleCollector)
        case closeStatement
        case copyIn(CopyInState)
        case copyOut(PGRowStream)
    }

    struct ExecutionInfo {
        var statementKey: String?
        var timer: UInt64?
        var timedOut = false
        var cancelWhenStarted = false
        var tag: String?
        var error: PGError?
    }

    final class PreparedStatement {
        let name: String
        var lastUsed: UInt64 = 0
        var pinned = false
        var parameterTypes: [PGDataType] = []
        var columns: PGRowDescription?
        var resultFormats: [PGFormat] = []
        var ready = false
        var waiters: [CheckedContinuation<Void, any Error>] = []
        init(name: String) { self.name = name }
    }

    final class SimpleCollector {
        var results: [PGQueryResult] = []
        var current: PGQueryResult?
        var error: PGError?
        var continuation: CheckedContinuation<[PGQueryResult], any Error>?
    }

    private static let idCounter = Atomic<Int>(0)

    init(
        fd: Int32, address: PGSocketAddress, loop: PGEventLoop, configuration: PGConnectionConfiguration, logger: Logger,
        tls: PGTLSSession? = nil, startup: PGStartupStateMachine? = nil
    ) {
        self.id = Self.idCounter.add(1, ordering: .relaxed).newValue
        self.fd = fd
        self.tls = tls
        self.address = address
        self.eventLoop = loop
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "pg.connection.id"] = "\(id)"
        self.logger = logger
        self.decoder = PGBackendMessageDecoder(maxMessageLength: configuration.maxMessageLength)
        self.phase = .startup(startup ?? PGStartupStateMachine(user: configuration.user, password: configuration.password))
        let random = (try? PGSecureRandom.bytes(6)) ?? []
        self.useUnnamedStatements = configuration.statementCacheSize == 0
        self.statementPrefix = "tusk_" + random.map { String($0, radix: 16).leftPad(2) }.joined() + "_"
    }

    /// True once the connection has closed (by `close()`, the server, or an error).
    public nonisolated var isClosed: Bool { closedFlag.load(ordering: .acquiring) }

    // MARK: Connecting

    /// Opens a connection: tries each host (and each address a name resolves to) in order, authenticates,
    /// and waits until the server is ready. `connectTimeout` bounds the whole attempt per host.
    ///
    /// TLS follows libpq's `sslmode` (default `prefer`: TLS when the server offers it; see
    /// `PGConnectionConfiguration.SSLMode`); over TLS, SCRAM binds the channel (SCRAM-SHA-256-PLUS) unless
    /// `channel_binding=disable`. Without a password, the password file (`~/.pgpass`, `PGPASSFILE`) is consulted.
    ///
    /// ```swift
    /// let config = try PGConnectionConfiguration(
    ///     "postgres://app@db.internal/orders?sslmode=verify-full&sslrootcert=/etc/ssl/pg-root.crt")
    /// let connection = try await PGConnection.connect(config)
    /// connection.isEncrypted  // true
    /// ```
    public static func connect(
        _ configuration: PGConnectionConfiguration,
        logger: Logger = Logger(label: "tusk.pg"),
        eventLoop: PGEventLoop? = nil
    ) async throws -> PGConnection {
        try checkTLSConfiguration(configuration)
        let loop: PGEventLoop
        do {
            loop = try eventLoop ?? PGEventLoopGroup.shared.next()
        } catch {
            throw PGError(code: .connectionFailed, message: "could not start an I/O event loop", isSafeToRetry: true, underlying: "\(error)")
        }
        var lastError: PGError?
        var endpoints = configuration.hosts
        if configuration.loadBalanceHosts == .random { endpoints.shuffle() }
        // prefer-standby: a first pass wants a standby; a second pass takes any server.
        let passes: [PGConnectionConfiguration.TargetSessionAttributes] =
            configuration.targetSessionAttributes == .preferStandby ? [.standby, .any] : [configuration.targetSessionAttributes]
        for wanted in passes {
            for endpoint in endpoints {
                var addresses: [PGSocketAddress]
                var hostName: String?
                switch endpoint {
                case .unixSocket(let path):
                    addresses = [.unix(path: path)]
                case .tcp(let host, let port):
                    hostName = host
                    do {
                        addresses = try PGSocket.resolve(host: host, port: port)
                    } catch {
                        lastError = PGError(code: .connectionFailed, message: "could not resolve \(host)", isSafeToRetry: true, underlying: "\(error)")
                        continue
                    }
                }
                if configuration.loadBalanceHosts == .random { addresses.shuffle() }
                for address in addresses {
                    do {
                        let connection = try await connectNegotiatingTLS(to: address, host: hostName, configuration: configuration, loop: loop, logger: logger)
                        if let mismatch = await connection.sessionMismatch(wanted) {
                            await connection.close()
                            lastError = PGError(code: .connectionFailed, message: "\(address) \(mismatch) (target_session_attrs=\(wanted))", isSafeToRetry: true)
                            continue
                        }
                        return connection
                    } catch let error as PGError {
                        lastError = error
                        // Authentication and server errors are final; only transport failures move on.
                        if error.code != .connectionFailed && error.code != .timeout { throw error }
                        logger.debug("connection attempt failed", metadata: ["pg.address": "\(address)", "error": "\(error)"])
                    }
                }
            }
        }
        throw lastError ?? PGError(code: .invalidConfiguration, message: "no host to connect to")
    }

    static func connect(
        to address: PGSocketAddress, host: String?, configuration: PGConnectionConfiguration, password: String?,
        tlsMode: TLSAttempt, loop: PGEventLoop, logger: Logger
    ) async throws -> PGConnection {
        let started = ContinuousClock.now
        let fd: Int32
        do {
            fd = try await PGSocket.connect(to: address, on: loop, timeout: configuration.connectTimeout)
        } catch is CancellationError {
            throw PGError(code: .cancelled, message: "connecting to \(address) was cancelled", isSafeToRetry: true)
        } catch PGTransportError.timeout {
            throw PGError(code: .timeout, message: "connecting to \(address) timed out after \(configuration.connectTimeout)", isSafeToRetry: true)
        } catch {
            throw PGError(code: .connectionFailed, message: "could not connect to \(address)", isSafeToRetry: true, underlying: "\(error)")
        }
        let tls: PGTLSSession?
        let startupMachine: PGStartupStateMachine
        do {
            tls = try await negotiateTLS(
                fd: fd, host: host, configuration: configuration, mode: tlsMode, loop: loop,
                timeout: configuration.connectTimeout - (ContinuousClock.now - started))
            startupMachine = try makeStartupMachine(configuration: configuration, password: password, tls: tls)
        } catch {
            PGSocket.close(fd)
            throw error
        }
        let connection = PGConnection(
            fd: fd, address: address, loop: loop, configuration: configuration, logger: logger, tls: tls, startup: startupMachine)
        let remaining = configuration.connectTimeout - (ContinuousClock.now - started)
        do {
            try await connection.startup(timeout: remaining)
        } catch let error as PGError {
            throw StartupFailure(error: error, usedTLS: tls != nil, authenticationStarted: await connection.authenticationMethod != nil)
        }
        return connection
    }

    func startup(timeout: Duration) async throws {
        do {
            try eventLoop.register(fd: fd, handler: self)
        } catch {
            PGSocket.close(fd)
            fdClosed = true
            closedFlag.store(true, ordering: .releasing)
            throw PGError(code: .connectionFailed, message: "could not register the socket", isSafeToRetry: true, underlying: "\(error)")
        }
        var params: [(String, String)] = [("user", configuration.user), ("database", configuration.database)]
        if let app = configuration.applicationName { params.append(("application_name", app)) }
        if let options = configuration.options { params.append(("options", options)) }
        params.append(("client_encoding", "UTF8"))
        params.append(("DateStyle", "ISO"))
        for (k, v) in configuration.extraStartupParameters.sorted(by: { $0.key < $1.key }) { params.append((k, v)) }
        PGFrontendEncoder.startup(parameters: params, into: &out)
        eventLoop.scheduleFlush(self)
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
                if case .closed(let error) = phase {
                    cont.resume(throwing: error)
                    return
                }
                startupContinuation = cont
                startupTimer = eventLoop.scheduleTimer(after: timeout) { [self] in
                    assumeIsolated {
                        $0.startupTimer = nil
                        $0.closeWithError(PGError(code: .timeout, message: "connection start-up timed out after \(configuration.connectTimeout)", isSafeToRetry: true))
                    }
                }
            }
        } onCancel: {
            eventLoop.execute { [self] in
                assumeIsolated { $0.closeWithError(PGError(code: .cancelled, message: "connecting was cancelled", isSafeToRetry: true)) }
            }
        }
        if let statementTimeout = configuration.statementTimeout {
            let ms = statementTimeout.components.seconds * 1000 + statementTimeout.components.attoseconds / 1_000_000_000_000_000
            _ = try await simpleQuery("SET statement_timeout = \(ms)")
        }
    }

    /// Why this session does not have the wanted attributes (nil when it does). PostgreSQL 14+ reports
    /// `in_hot_standby` and `default_transaction_read_only` at startup; older servers are asked.
    func sessionMismatch(_ wanted: PGConnectionConfiguration.TargetSessionAttributes) async -> String? {
        if wanted == .any || wanted == .preferStandby { return nil }
        func flag(_ parameter: String, _ query: PGQuery) async -> Bool? {
            if let v = serverParameters[parameter] { return v == "on" }
            guard let rows = try? await self.query(query).collect(), let row = rows.first,
                  let value = try? row.decode(String.self, column: 0) else { return nil }
            return value == "on" || value == "t" || value == "true"
        }
        switch wanted {
        case .readWrite, .readOnly:
            let standby = await flag("in_hot_standby", "SELECT CASE WHEN pg_is_in_recovery() THEN 'on' ELSE 'off' END")
            let readOnlyDefault = await flag("default_transaction_read_only", "SHOW default_transaction_read_only")
            let readOnly = (standby ?? false) || (readOnlyDefault ?? false)
            if wanted == .readWrite && readOnly { return "is read-only" }
            if wanted == .readOnly && !readOnly { return "is not read-only" }
            return nil
        case .primary, .standby:
            let standby = await flag("in_hot_standby", "SELECT CASE WHEN pg_is_in_recovery() THEN 'on' ELSE 'off' END") ?? false
            if wanted == .primary && standby { return "is a standby" }
            if wanted == .standby && !standby { return "is not a standby" }
            return nil
        case .any, .preferStandby:
            return nil
        }
    }

    // MARK: Event loop callbacks

    public nonisolated func eventLoopReadable() { assumeIsolated { $0.readable() } }
    public nonisolated func eventLoopWritable() { assumeIsolated { $0.flush() } }
    public nonisolated func eventLoopFlush() { assumeIsolated { $0.flush() } }

    func readable() {
        if let tls {
            readableTLS(tls)
            return
        }
        var rounds = 0
        while !fdClosed && !readPaused {
            var failure: Int32 = 0
            let capacity = 65_536
            let n = decoder.readFrom(capacity: capacity) { pointer, capacity in
                switch PGSocket.read(fd, into: pointer, capacity: capacity) {
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
                // Decode what arrived before the close (e.g. a FATAL ErrorResponse explaining it).
                processMessages()
                if fdClosed { return }
                let underlying = n == 0 ? "end of stream" : PGSocket.errorDescription(failure)
                closeWithError(PGError(code: .connectionClosed, message: "the server closed the connection", underlying: underlying))
                return
            }
            processMessages()
            rounds += 1
            if n < capacity || rounds >= 8 { return }
        }
    }

    func processMessages() {
        do {
            while !fdClosed, let message = try decoder.nextMessage() {
                handle(message)
            }
        } catch {
            closeWithError(error)
        }
        flushRowBatch()
    }

    func handle(_ message: PGBackendMessage) {
        switch phase {
        case .startup(var machine):
            let action = machine.messageReceived(message)
            phase = .startup(machine)
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
                if let t = startupTimer { eventLoop.cancelTimer(t) }
                startupTimer = nil
                logger.debug("connected", metadata: ["pg.address": "\(address)", "pg.backend_pid": "\(result.processID)"])
                startupContinuation?.resume()
                startupContinuation = nil
            }
        case .ready, .closing:
            perform(responses.messageReceived(message))
        case .closed:
            break
        }
    }

    func perform(_ action: PGResponseStateMachine.Action) {
        switch action {
        case .none:
            break
        case .row(let unit, let row):
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
        case .rowDescription(let unit, let columns):
            flushRowBatch()
            switch contexts[unit] {
            case .execute(let stream): stream.setColumns(columns)
            case .simple(let collector): collector.current = PGQueryResult(columns: columns, rows: [], commandTag: "")
            default: break
            }
        case .commandComplete(let unit, let tag):
            flushRowBatch()
            switch contexts[unit] {
            case .execute, .copyOut:
                // Completed at ReadyForQuery: a stray message before it still fails this query.
                executions[unit]?.tag = tag
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
            case .execute: executions[unit]?.tag = ""
            case .simple(let collector):
                collector.results.append(PGQueryResult(columns: nil, rows: [], commandTag: ""))
            default: break
            }
        case .prepared(let unit, let parameters, let rows):
            guard case .prepare(let key) = contexts[unit], let statement = statements[key] else { return }
            statement.parameterTypes = parameters
            if let rows {
                let formats = rows.columns.map { Self.binaryResultTypes.contains($0.dataType) ? PGFormat.binary : .text }
                statement.columns = rows.withFormats(formats)
                if formats.allSatisfy({ $0 == .binary }) {
                    statement.resultFormats = [.binary]
                } else if formats.allSatisfy({ $0 == .text }) {
                    statement.resultFormats = []
                } else {
                    statement.resultFormats = formats
                }
            }
            statement.ready = true
            let waiters = statement.waiters
            statement.waiters = []
            for w in waiters { w.resume() }
        case .failed(let unit, let info):
            flushRowBatch()
            let error = PGError(code: .server, message: info.message, serverInfo: info)
            switch contexts[unit] {
            case .execute:
                executions[unit]?.error = error
                if Self.isStaleStatementError(info), let key = executions[unit]?.statementKey,
                   let statement = statements.removeValue(forKey: key) {
                    // The server forgot our statement (DISCARD ALL, a pooler's new session) or its plan's result type
                    // changed (DDL): prepare it again next time; close the old name if the server still has it.
                    logger.debug("re-preparing a statement the server rejected", metadata: ["pg.sqlstate": "\(info.sqlState.rawValue)"])
                    if info.sqlState != .invalidSqlStatementName { enqueueClose(statement.name) }
                }
            case .prepare(let key):
                if let statement = statements.removeValue(forKey: key) {
                    let waiters = statement.waiters
                    statement.waiters = []
                    for w in waiters { w.resume(throwing: error) }
                }
            case .simple(let collector):
                collector.error = error
            case .copyOut:
                executions[unit]?.error = error
            case .copyIn(let state):
                state.error = error
                state.wakeWriter()
            default:
                break
            }
            if let severity = info.severityNonLocalized ?? info.severity, severity == "FATAL" || severity == "PANIC" {
                // The backend is exiting (pg_terminate_backend, shutdown, admin action): fail this query with the
                // server's error and every other one as closed, without waiting for the socket to report it.
                // Closed first, so whoever sees this query's error also sees `isClosed`.
                closedFlag.store(true, ordering: .releasing)
                if let context = contexts.removeValue(forKey: unit) {
                    executions.removeValue(forKey: unit)
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
                    let info = executions.removeValue(forKey: unit)
                    if let timer = info?.timer { eventLoop.cancelTimer(timer) }
                    if var error = info?.error {
                        if info?.timedOut == true, error.sqlState == .queryCanceled {
                            error = PGError(code: .timeout, message: "the query timed out and was cancelled", serverInfo: error.serverInfo)
                        } else if let server = error.serverInfo, Self.isStaleStatementError(server), status == .idle, !stream.receivedAny {
                            stream.markRecoverable()
                        }
                        stream.finish(.failure(error))
                    } else if let tag = info?.tag {
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
                case .prepare(let key):
                    if let statement = statements[key], !statement.ready {
                        statements.removeValue(forKey: key)
                        let error = PGError.violation("the statement was not described")
                        for w in statement.waiters { w.resume(throwing: error) }
                        statement.waiters = []
                    }
                case .closeStatement:
                    break
                }
            }
            // A request queued behind this one whose cancellation (or timeout) came early runs now: cancel it.
            if let next = contexts.keys.min(), executions[next]?.cancelWhenStarted == true {
                executions[next]?.cancelWhenStarted = false
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
            logger.error("protocol violation", metadata: ["error": "\(error.message)"])
            closeWithError(error)
        }
    }

    /// The server no longer has our prepared statement (26000), or its cached plan's result type changed.
    static func isStaleStatementError(_ info: PGServerErrorInfo) -> Bool {
        info.sqlState == .invalidSqlStatementName
            || (info.sqlState == .featureNotSupported && info.message.contains("cached plan must not change result type"))
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
        let result = out.bytes.withUnsafeBytes { raw in
            PGSocket.write(fd, from: raw.baseAddress! + outOffset, count: raw.count - outOffset)
        }
        switch result {
        case .bytes(let n):
            outOffset += n
            if outOffset == out.count {
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
        for (_, context) in contexts { fail(context, error) }
        contexts.removeAll()
        for (_, info) in executions { if let t = info.timer { eventLoop.cancelTimer(t) } }
        executions.removeAll()
        for (_, statement) in statements {
            for w in statement.waiters { w.resume(throwing: error) }
            statement.waiters = []
        }
        statements.removeAll()
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
        case .execute(let stream), .copyOut(let stream): stream.finish(.failure(error))
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
            throw PGError(code: .connectionClosed, message: "the connection is closed", isSafeToRetry: true, underlying: e.description)
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
