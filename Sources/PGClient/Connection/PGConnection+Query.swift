import Logging
import PGTransport
import PGWire
import Synchronization

extension PGConnection {
    /// Runs a statement whose interpolated values are bound as parameters, and streams its rows.
    ///
    /// The statement is prepared once per connection (named with a per-connection random prefix; the cache
    /// keeps `statementCacheSize` statements, least recently used closed first) and its row description
    /// cached, so later runs cost one round trip: Bind, Execute, Sync. Columns of types Tusk decodes in
    /// binary are requested in binary; the rest in text. When the server has forgotten or invalidated the
    /// cached statement (SQLSTATE 26000, "cached plan must not change result type"), Tusk prepares it again
    /// and retries once, outside a transaction. Errors before the first row are thrown here; later ones from
    /// the iteration. With `timeout`, a statement still running then is cancelled (CancelRequest) and fails
    /// with `.timeout`.
    ///
    /// ```swift
    /// let minimum = 10
    /// let rows = try await connection.query("SELECT id, name FROM users WHERE id > \(minimum)")
    /// for try await (id, name) in rows.decode((Int, String).self) { print(id, name) }
    /// ```
    public nonisolated(nonsending) func query(_ query: PGQuery, timeout: Duration? = nil) async throws -> PGRowSequence {
        PGRowSequence(stream: try await run(query.sql, query.bindings, timeout: timeout))
    }

    /// Runs a statement with explicit `$n` placeholders and values (extended protocol) and streams its rows.
    ///
    /// ```swift
    /// let rows = try await connection.query("SELECT $1::int4 + 1", [41])
    /// ```
    public nonisolated(nonsending) func query(_ sql: String, _ bindings: [any PGEncodable], timeout: Duration? = nil) async throws -> PGRowSequence {
        PGRowSequence(stream: try await run(sql, bindings, timeout: timeout))
    }

    /// Runs a statement and returns the number of rows it affected (nil when its command tag has no count).
    ///
    /// ```swift
    /// let id = 7
    /// let n = try await connection.execute("UPDATE accounts SET balance = 0 WHERE id = \(id)")
    /// ```
    @discardableResult
    public nonisolated(nonsending) func execute(_ query: PGQuery, timeout: Duration? = nil) async throws -> Int? {
        try await drain(try await run(query.sql, query.bindings, timeout: timeout))
    }

    /// Runs a statement with explicit placeholders and returns the number of rows it affected.
    ///
    /// ```swift
    /// try await connection.execute("DELETE FROM sessions WHERE user_id = $1", [7])
    /// ```
    @discardableResult
    public nonisolated(nonsending) func execute(_ sql: String, _ bindings: [any PGEncodable], timeout: Duration? = nil) async throws -> Int? {
        try await drain(try await run(sql, bindings, timeout: timeout))
    }

    /// Runs one or more SQL statements with the simple query protocol (no parameters) and returns each
    /// statement's result in order. Values arrive in text format; rows are collected in memory, so use `query`
    /// for large results. An error in a later statement is thrown after the earlier ones ran (as the server
    /// does, the whole string runs in one implicit transaction unless it contains its own BEGIN/COMMIT).
    ///
    /// ```swift
    /// let results = try await connection.simpleQuery("CREATE TEMP TABLE t(x int); INSERT INTO t VALUES (1), (2); SELECT x FROM t")
    /// print(results[1].affectedRows ?? 0) // 2
    /// print(results[2].rows.count)        // 2
    /// ```
    @discardableResult
    public func simpleQuery(_ sql: String) async throws -> [PGQueryResult] {
        try ensureOpen()
        let collector = SimpleCollector()
        let unit = makeUnitID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<[PGQueryResult], any Error>) in
                if case .closed(let e) = phase {
                    cont.resume(throwing: PGError(code: .connectionClosed, message: "the connection is closed", isSafeToRetry: true, underlying: e.description))
                    return
                }
                collector.continuation = cont
                PGFrontendEncoder.query(sql, into: &out)
                responses.unitSent(.init(id: unit, kind: .simple))
                contexts[unit] = .simple(collector)
                eventLoop.scheduleFlush(self)
            }
        } onCancel: {
            Task { await self.cancelUnit(unit) }
        }
    }

    /// Prepares a statement now: the server parses and checks it (errors are thrown here) and describes its
    /// parameters and columns. It is kept for the connection's lifetime (never evicted from the cache).
    ///
    /// With named statements (PostgreSQL directly) it becomes a named prepared statement on the server, planned
    /// once and run with Bind+Execute. With unnamed statements (behind a transaction-mode pooler, or
    /// `statement_cache_size=0`) a named statement would stay on whichever server session the pooler picked, so
    /// none is made: the statement is checked and described now, and each run sends Parse+Bind+Execute in one
    /// round trip — valid on whatever server session runs it.
    ///
    /// ```swift
    /// let add = try await connection.prepare("SELECT $1::int4 + 1")
    /// let rows = try await add.query([41])
    /// ```
    public func prepare(_ sql: String) async throws -> PGPreparedStatement {
        try ensureOpen()
        pinnedStatements.insert(sql)
        if useUnnamedStatements {
            let statement = PreparedStatement(name: "", sql: sql, key: sql, bindings: [])
            enqueuePrepare(statement)
            try await awaitPrepared(statement)
        } else {
            _ = try await startQuery(sql, [], timeout: nil, prepareOnly: true)
        }
        return PGPreparedStatement(connection: self, sql: sql)
    }

    /// Which kind of statements this connection uses now: `.named` or `.unnamed` (`.auto` resolves at connect,
    /// and a connection whose server loses its statements twice switches to `.unnamed`).
    ///
    /// ```swift
    /// if await connection.preparedStatementMode == .unnamed { print("behind a pooler, or configured so") }
    /// ```
    public var preparedStatementMode: PGConnectionConfiguration.PreparedStatements {
        useUnnamedStatements ? .unnamed : .named
    }

    // MARK: Internals

    /// A stale cached statement failed a request whose caller retries elsewhere (`run(retryStale: false)`).
    struct StaleStatement: Error {
        let error: PGError
    }

    /// Runs a statement. A stale cached statement is prepared again and the statement retried once here, unless
    /// `retryStale` is false (the pool's shared path: the connection may be leased exclusively by then, so the
    /// pool retries on a connection it picks again); then `StaleStatement` is thrown.
    nonisolated(nonsending) func run(_ sql: String, _ bindings: [any PGEncodable], timeout: Duration?, retryStale: Bool = true,
                         afterSend: (@Sendable () -> Void)? = nil) async throws -> PGRowStream {
        if let tracer {
            return try await runInSpan(tracer, sql, bindings, timeout: timeout, retryStale: retryStale, afterSend: afterSend)
        }
        return try await runUntraced(sql, bindings, timeout: timeout, retryStale: retryStale, afterSend: afterSend)
    }

    nonisolated(nonsending) func runUntraced(_ sql: String, _ bindings: [any PGEncodable], timeout: Duration?, retryStale: Bool,
                                             afterSend: (@Sendable () -> Void)?) async throws -> PGRowStream {
        var retried = false
        var afterSend = afterSend
        /// The stream when the request started well; nil to run it again (a stale statement, once); or throws.
        func checked(_ stream: PGRowStream) throws -> PGRowStream? {
            guard let error = stream.earlyFailure else { return stream }
            if stream.isRecoverable {
                if !retryStale { throw StaleStatement(error: error) }
                if !retried {
                    retried = true
                    return nil
                }
            }
            throw Self.adjustForCancellation(error)
        }
        let onOwnThread = eventLoop.inEventLoop
        // A caller elsewhere, with nothing in flight here and the loop's thread parked, acts as the loop right here
        // (see `PGEventLoop.borrowIfParked`). With requests in flight the submitted path below pipelines better;
        // a caller already cancelled takes it too, to fail there unsent.
        let borrowed = !onOwnThread && requestsInFlight.load(ordering: .relaxed) == 0 && !Task.isCancelled
            && eventLoop.borrowIfParked()
        if onOwnThread || borrowed {
            // Start the request right here, with no hop onto the actor's queue, and poll for the reply in place.
            let started: PGRowStream?
            do {
                started = try startInPlace(sql, bindings, timeout: timeout, borrowed: borrowed, afterSend: afterSend)
            } catch {
                if borrowed { eventLoop.giveBack() }
                afterSend?()
                throw error
            }
            if borrowed { eventLoop.giveBack() }
            if let stream = started {
                afterSend = nil
                await stream.waitForFirstEvent()
                if let stream = try checked(stream) { return stream }
            }
        } else {
            // The caller runs elsewhere: hand the request to the loop as a closure and wait on the caller's own
            // executor. The loop starts it in place (a statement described before), so the task never runs on
            // the loop: one hop back when the reply comes, instead of a hop there and two task runs on the loop.
            let stream = PGRowStream(columns: nil, unit: 0, owner: self)
            let send = afterSend
            await stream.submitAndWait(on: eventLoop) { [self] in
                startSubmitted(stream, sql, bindings, timeout: timeout, afterSend: send)
            }
            if !stream.wasDeclined {
                afterSend = nil
                if let stream = try checked(stream) { return stream }
            }
        }
        while true {
            let stream = try await startAndWait(sql, bindings, timeout: timeout, afterSend: afterSend)
            afterSend = nil
            if let stream = try checked(stream) { return stream }
        }
    }

    /// Sends the request and waits for its first event on the connection's executor: the reply resumes the
    /// waiter on the I/O thread with no wake-up, and only the return to the caller crosses threads.
    /// `afterSend` runs once the request is queued for the wire (or failed to be), before waiting.
    func startAndWait(_ sql: String, _ bindings: [any PGEncodable], timeout: Duration?,
                      afterSend: (@Sendable () -> Void)? = nil) async throws -> PGRowStream {
        let stream: PGRowStream
        do {
            stream = try await startQuery(sql, bindings, timeout: timeout, prepareOnly: false)
        } catch {
            afterSend?()
            throw error
        }
        afterSend?()
        await stream.waitForFirstEvent()
        return stream
    }

    nonisolated(nonsending) func drain(_ stream: PGRowStream) async throws -> Int? {
        while true {
            switch await stream.next() {
            case .rows: continue
            case .end(.success(let tag)): return PGQueryResult.affectedRows(from: tag)
            case .end(.failure(let error)): throw Self.adjustForCancellation(error)
            }
        }
    }

    /// The cache key: the SQL plus the parameter types the values were sent as.
    static func statementKey(_ sql: String, _ bindings: [any PGEncodable]) -> String {
        guard !bindings.isEmpty else { return sql }
        var key = sql
        key.append("\u{0}")
        for b in bindings {
            key.append(String(b.pgDataTypeOfValue.rawValue))
            if b.pgDataTypeOfValue == .unspecified, let name = type(of: b).pgResolvableTypeName { key.append(name) }
            key.append(",")
        }
        return key
    }

    /// The OIDs sent in Parse: each value's type, or the OID its type name resolved to on this connection.
    func parameterTypes(_ bindings: [any PGEncodable]) -> [PGDataType] {
        bindings.map { b in
            let t = b.pgDataTypeOfValue
            guard t == .unspecified, let name = type(of: b).pgResolvableTypeName else { return t }
            return resolvedTypes[name] ?? .unspecified
        }
    }

    /// Resolves user-defined type names of these values to OIDs (once per connection and name).
    func resolveTypeNames(_ bindings: [any PGEncodable]) async throws {
        for b in bindings where b.pgDataTypeOfValue == .unspecified {
            guard let name = type(of: b).pgResolvableTypeName, resolvedTypes[name] == nil else { continue }
            let oid = try await queryOne("SELECT to_regtype(\(name))::oid::int8", as: Int64?.self)
            guard let oid, let value = UInt32(exactly: oid) else {
                throw PGError(code: .encoding, message: "the server has no type named \"\(name)\"")
            }
            resolvedTypes[name] = PGDataType(value)
        }
    }

    /// The OID a user-defined type name resolved to on this connection (after a query that bound such a value),
    /// or resolves it now.
    ///
    /// ```swift
    /// let mood = try await connection.typeOID(named: "mood")
    /// ```
    public func typeOID(named name: String) async throws -> PGDataType {
        if let known = resolvedTypes[name] { return known }
        let answer = try await queryOne("SELECT to_regtype(\(name))::oid::int8", as: Int64?.self)
        guard let oid = answer, let value = UInt32(exactly: oid) else {
            throw PGError(code: .decoding, message: "the server has no type named \"\(name)\"")
        }
        resolvedTypes[name] = PGDataType(value)
        return PGDataType(value)
    }

    func startQuery(_ sql: String, _ bindings: [any PGEncodable], timeout: Duration?, prepareOnly: Bool) async throws -> PGRowStream {
        if !prepareOnly, let stream = try startWithoutSuspending(sql, bindings, timeout: timeout) { return stream }
        try ensureOpen()
        if Self.needsTypeResolution(bindings) { try await resolveTypeNames(bindings) }
        guard bindings.count <= Int(Int16.max) else {
            throw PGError(code: .encoding, message: "too many parameters (\(bindings.count)); the protocol allows at most 32767")
        }
        if useUnnamedStatements && !prepareOnly {
            return try startUnnamed(sql, bindings, timeout: timeout)
        }
        let key = Self.statementKey(sql, bindings)
        let statement = lookUpOrPrepare(key: key, sql: sql, bindings: bindings)
        recentStatement = statement
        if !statement.ready {
            do {
                try await awaitPrepared(statement)
            } catch let error as PGError where error.sqlState == .duplicatePreparedStatement {
                if prepareOnly { throw error }
                return try startUnnamed(sql, bindings, timeout: timeout)
            }
        }
        if prepareOnly {
            let stream = makeStream(columns: statement.columns, unit: 0)
            stream.finish(.success(commandTag: ""))
            return stream
        }
        return try enqueueExecute(statement, bindings: bindings, timeout: timeout)
    }

    /// True when a value's type is known by name only and must be resolved to an OID on this connection first.
    static func needsTypeResolution(_ bindings: [any PGEncodable]) -> Bool {
        bindings.contains { $0.pgDataTypeOfValue == .unspecified && type(of: $0).pgResolvableTypeName != nil }
    }

    /// Starts a statement without suspending when it can: a described statement used last, or unnamed mode.
    /// Returns nil when it needs the full path (preparing, resolving type names).
    func startWithoutSuspending(_ sql: String, _ bindings: [any PGEncodable], timeout: Duration?,
                                into existing: PGRowStream? = nil) throws -> PGRowStream? {
        try ensureOpen()
        if useUnnamedStatements {
            guard bindings.count <= Int(Int16.max), !Self.needsTypeResolution(bindings) else { return nil }
            return try startUnnamed(sql, bindings, timeout: timeout, into: existing)
        }
        if let statement = recentStatement(sql, bindings) {
            return try enqueueExecute(statement, bindings: bindings, timeout: timeout, into: existing)
        }
        return nil
    }

    /// Runs on the loop for a caller off it (see `run`): starts the request into the caller's stream, or
    /// declines (the caller then takes the full path), or fails the stream. `afterSend` runs unless declined.
    nonisolated func startSubmitted(_ stream: PGRowStream, _ sql: String, _ bindings: [any PGEncodable], timeout: Duration?,
                                    afterSend: (@Sendable () -> Void)?) {
        onLoop((stream, sql, bindings, timeout, afterSend), LoopCall { connection, a in
            let (stream, sql, bindings, timeout, afterSend) = a
            guard stream.mayStart() else {
                afterSend?()
                stream.finish(.failure(PGError(code: .cancelled, message: "the query was cancelled before it was sent", isSafeToRetry: true)))
                return
            }
            do {
                guard try connection.startWithoutSuspending(sql, bindings, timeout: timeout, into: stream) != nil else {
                    stream.decline()
                    return
                }
                afterSend?()
            } catch {
                afterSend?()
                stream.finish(.failure((error as? PGError) ?? PGError(code: .encoding, message: "\(error)")))
            }
        })
    }

    /// Waits until the statement is described. A name clash (42P05: a pooler shares server sessions) turns
    /// named statements off for this connection and rethrows, so the caller can run it unnamed.
    func awaitPrepared(_ statement: PreparedStatement) async throws {
        do {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
                if statement.ready { cont.resume(); return }
                statement.waiters.append(cont)
            }
        } catch let error as PGError where error.sqlState == .duplicatePreparedStatement {
            switchToUnnamedStatements(because: "the server already has a prepared statement of this name (42P05); a pooler in transaction mode shares server sessions")
            throw error
        }
        try ensureOpen()
    }

    /// Queues Bind/Execute/Sync for a described statement and returns the result's stream.
    func enqueueExecute(_ statement: PreparedStatement, bindings: [any PGEncodable], timeout: Duration?,
                        into existing: PGRowStream? = nil) throws -> PGRowStream {
        let unit = makeUnitID()
        let stream = existing ?? makeStream(columns: statement.columns, unit: unit)
        let mark = out.count
        do {
            if bindings.allSatisfy({ type(of: $0).pgFormat == .binary }) {
                let template = statement.bindTemplate ?? PGBindTemplate(
                    statement: statement.name, parameterCount: bindings.count, resultFormats: statement.resultFormats)
                statement.bindTemplate = template
                try PGFrontendEncoder.bindExecuteSync(template, parameters: bindings, into: &out)
            } else {
                try PGFrontendEncoder.bind(statement: statement.name, parameters: bindings, resultFormats: statement.resultFormats, into: &out)
                PGFrontendEncoder.execute(into: &out)
                PGFrontendEncoder.sync(into: &out)
            }
        } catch {
            out.bytes.removeSubrange(mark...)
            throw error
        }
        let acksBind = out.count - mark >= Self.largeRequest
        if acksBind { PGFrontendEncoder.insertFlushBeforeExecuteSync(into: &out) }
        responses.unitSent(.init(id: unit, kind: .execute(parses: false, describesPortal: false, columnCount: statement.columns?.columns.count)))
        contexts[unit] = .execute(stream)
        stream.execution = ExecutionInfo(statement: statement)
        stream.execution.requestEnd = outBase &+ out.count
        stream.execution.acksBind = acksBind
        armTimeout(timeout, unit: unit, stream: stream)
        eventLoop.scheduleFlush(self)
        if let existing, existing.started(unit: unit, columns: statement.columns) { cancelUnit(unit) }
        return stream
    }

    /// Parse (unnamed) + Bind + Describe(portal) + Execute + Sync in one write. Results come in the formats
    /// learnt from the statement's last run here (binary for the types Tusk decodes in binary), in text the
    /// first time; the portal's description comes back with every run, so rows are always decoded by the
    /// types the server really sent, even after the schema changed. `learn: false` (BEGIN, COMMIT) keeps no record.
    func startUnnamed(_ sql: String, _ bindings: [any PGEncodable], timeout: Duration?,
                      into existing: PGRowStream? = nil, learn: Bool = true) throws -> PGRowStream {
        let statement = learn ? unnamedStatement(sql, bindings) : nil
        let mark = out.count
        PGFrontendEncoder.parse(statement: "", sql: sql, parameterTypes: parameterTypes(bindings), into: &out)
        do {
            try PGFrontendEncoder.bind(statement: "", parameters: bindings, resultFormats: statement?.resultFormats ?? [], into: &out)
        } catch {
            out.bytes.removeSubrange(mark...)
            throw error
        }
        let acksBind = out.count - mark >= Self.largeRequest
        if acksBind { PGFrontendEncoder.flush(into: &out) }
        PGFrontendEncoder.describe(portal: "", into: &out)
        PGFrontendEncoder.execute(into: &out)
        PGFrontendEncoder.sync(into: &out)
        let unit = makeUnitID()
        let stream = existing ?? makeStream(columns: nil, unit: unit)
        responses.unitSent(.init(id: unit, kind: .execute(parses: true, describesPortal: true, columnCount: nil)))
        contexts[unit] = .execute(stream)
        stream.execution = ExecutionInfo(statement: statement)
        stream.execution.requestEnd = outBase &+ out.count
        stream.execution.acksBind = acksBind
        armTimeout(timeout, unit: unit, stream: stream)
        eventLoop.scheduleFlush(self)
        if let existing, existing.started(unit: unit, columns: nil) { cancelUnit(unit) }
        return stream
    }

    func makeStream(columns: PGRowDescription?, unit: UInt64) -> PGRowStream {
        PGRowStream(columns: columns, unit: unit, owner: self)
    }

    nonisolated func rowStreamWantsMore() {
        let loop = eventLoop
        loop.execute { self.onLoop((), LoopCall { c, _ in c.resumeReading() }) }
    }

    nonisolated func rowStreamCancelled(unit: UInt64) {
        Task { await self.cancelUnit(unit) }
    }

    func armTimeout(_ timeout: Duration?, unit: UInt64, stream: PGRowStream) {
        guard let timeout else { return }
        stream.execution.timer = eventLoop.scheduleTimer(after: timeout) { [self] in
            onLoop(unit, LoopCall { c, unit in c.queryTimedOut(unit) })
        }
    }

    func queryTimedOut(_ unit: UInt64) {
        guard let stream = stream(of: unit) else { return }
        stream.execution.timer = nil
        stream.execution.timedOut = true
        cancelUnit(unit)
    }

    static func adjustForCancellation(_ error: PGError) -> PGError {
        if withUnsafeCurrentTask(body: { $0?.isCancelled ?? false }), error.sqlState == .queryCanceled {
            return PGError(code: .cancelled, message: "the query was cancelled", serverInfo: error.serverInfo)
        }
        return error
    }
}
