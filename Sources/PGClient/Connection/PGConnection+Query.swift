import Logging
import PGTransport
import PGWire

extension PGConnection {
    /// Runs a statement with bound parameters (extended protocol) and streams its rows.
    ///
    /// The statement is prepared once per connection (named with a per-connection random prefix) and its row
    /// description cached, so later runs cost one round trip: Bind, Execute, Sync. Columns of types Tusk decodes
    /// in binary are requested in binary; the rest in text. Errors the server reports before the first row are
    /// thrown here; later ones from the iteration.
    ///
    /// ```swift
    /// let rows = try await connection.query("SELECT id, name FROM users WHERE id > $1", [10])
    /// for try await row in rows {
    ///     let (id, name) = try row.decode((Int, String).self)
    /// }
    /// ```
    public nonisolated func query(_ sql: String, _ bindings: [any PGEncodable] = []) async throws -> PGRowSequence {
        let stream = try await startQuery(sql, bindings)
        await stream.waitForFirstEvent()
        if let error = stream.earlyFailure {
            throw Self.adjustForCancellation(error)
        }
        return PGRowSequence(stream: stream)
    }

    /// Runs a statement and returns the number of rows it affected (nil when its command tag has no count).
    ///
    /// ```swift
    /// let n = try await connection.execute("UPDATE accounts SET balance = 0 WHERE id = $1", [7])
    /// ```
    @discardableResult
    public nonisolated func execute(_ sql: String, _ bindings: [any PGEncodable] = []) async throws -> Int? {
        let stream = try await startQuery(sql, bindings)
        while true {
            switch await stream.next() {
            case .rows: continue
            case .end(.success(let tag)): return PGQueryResult.affectedRows(from: tag)
            case .end(.failure(let error)): throw Self.adjustForCancellation(error)
            }
        }
    }

    /// Runs one or more SQL statements with the simple query protocol (no parameters) and returns each
    /// statement's result in order. Values arrive in text format; rows are collected in memory, so use `query`
    /// for large results.
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

    func startQuery(_ sql: String, _ bindings: [any PGEncodable]) async throws -> PGRowStream {
        try ensureOpen()
        guard bindings.count <= Int(Int16.max) else {
            throw PGError(code: .encoding, message: "too many parameters (\(bindings.count)); the protocol allows at most 32767")
        }
        var key = sql
        if !bindings.isEmpty {
            key.append("\u{0}")
            for b in bindings { key.append(String(b.pgDataTypeOfValue.rawValue)); key.append(",") }
        }
        let statement: PreparedStatement
        if let cached = statements[key] {
            statement = cached
        } else {
            statementCounter += 1
            statement = PreparedStatement(name: statementPrefix + String(statementCounter))
            statements[key] = statement
            let unit = makeUnitID()
            PGFrontendEncoder.parse(statement: statement.name, sql: sql, parameterTypes: bindings.map(\.pgDataTypeOfValue), into: &out)
            PGFrontendEncoder.describe(statement: statement.name, into: &out)
            PGFrontendEncoder.sync(into: &out)
            responses.unitSent(.init(id: unit, kind: .prepare))
            contexts[unit] = .prepare(key: key)
            eventLoop.scheduleFlush(self)
        }
        if !statement.ready {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
                statement.waiters.append(cont)
            }
            try ensureOpen()
        }
        let mark = out.count
        do {
            try PGFrontendEncoder.bind(statement: statement.name, parameters: bindings, resultFormats: statement.resultFormats, into: &out)
        } catch {
            out.bytes.removeSubrange(mark...)
            throw error
        }
        PGFrontendEncoder.execute(into: &out)
        PGFrontendEncoder.sync(into: &out)
        let unit = makeUnitID()
        let loop = eventLoop
        let stream = PGRowStream(
            columns: statement.columns ?? PGRowDescription(columns: []),
            onDemand: { [weak self] in
                guard let self else { return }
                loop.execute { self.assumeIsolated { $0.resumeReading() } }
            },
            onCancel: { [weak self] in
                guard let self else { return }
                Task { await self.cancelUnit(unit) }
            }
        )
        responses.unitSent(.init(id: unit, kind: .execute(parses: false, describesPortal: false, columnCount: statement.columns?.columns.count)))
        contexts[unit] = .execute(stream)
        eventLoop.scheduleFlush(self)
        return stream
    }

    static func adjustForCancellation(_ error: PGError) -> PGError {
        if withUnsafeCurrentTask(body: { $0?.isCancelled ?? false }), error.sqlState?.rawValue == "57014" {
            return PGError(code: .cancelled, message: "the query was cancelled", serverInfo: error.serverInfo)
        }
        return error
    }

    /// Cancels the statement `unit` if it is the one the server is running now (CancelRequest on a new socket).
    func cancelUnit(_ unit: UInt64) {
        guard contexts[unit] != nil, let oldest = contexts.keys.min(), oldest == unit else { return }
        sendCancelRequest()
    }

    /// Asks the server to cancel whatever this connection is running now. Best effort, like libpq's PQcancel:
    /// the running statement fails with SQLSTATE 57014 if the request arrives in time.
    ///
    /// ```swift
    /// Task { try await Task.sleep(for: .seconds(1)); await connection.cancelCurrentQuery() }
    /// ```
    public func cancelCurrentQuery() {
        sendCancelRequest()
    }

    func sendCancelRequest() {
        guard case .ready = phase else { return }
        let address = self.address
        let loop = eventLoop
        var message = PGWriteBuffer(capacity: 16)
        PGFrontendEncoder.cancelRequest(processID: backendProcessID, secretKey: secretKey, into: &message)
        let bytes = message.bytes
        let logger = self.logger
        Task {
            do {
                let fd = try await PGSocket.connect(to: address, on: loop, timeout: .seconds(10))
                _ = bytes.withUnsafeBytes { PGSocket.write(fd, from: $0.baseAddress!, count: $0.count) }
                PGSocket.close(fd)
            } catch {
                logger.warning("could not send a cancel request", metadata: ["error": "\(error)"])
            }
        }
    }
}

