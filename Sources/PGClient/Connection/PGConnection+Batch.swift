import PGWire

extension PGConnection {
    /// Sends many statements in one write and returns their results in order.
    ///
    /// Statements not yet prepared are prepared first (all in one round trip), then every Bind/Execute/Sync
    /// goes out in a single write: the whole batch costs about two round trips, however long it is. Each
    /// statement has its own Sync, so one failing does not stop the others; its slot holds the error.
    /// With `inTransaction`, the batch runs between BEGIN and COMMIT and the first error is thrown (and
    /// everything is rolled back).
    ///
    /// ```swift
    /// let results = try await connection.batch([
    ///     "INSERT INTO log VALUES (\(1))",
    ///     "INSERT INTO log VALUES (\(2))",
    ///     "SELECT count(*) FROM log",
    /// ], inTransaction: true)
    /// let count = try results[2].get().rows[0].decode(Int.self, column: 0)
    /// ```
    public nonisolated func batch(_ queries: [PGQuery], inTransaction: Bool = false) async throws -> [Result<PGQueryResult, PGError>] {
        let streams = try await startBatch(queries, inTransaction: inTransaction)
        var results: [Result<PGQueryResult, PGError>] = []
        results.reserveCapacity(queries.count)
        for slot in streams.items {
            switch slot {
            case .failure(let error):
                results.append(.failure(error))
            case .success(let stream):
                results.append(await Self.collect(stream))
            }
        }
        if let commit = streams.commit {
            let committed = await Self.collect(commit)
            if inTransaction {
                if let firstError = results.first(where: { if case .failure = $0 { true } else { false } }),
                   case .failure(let error) = firstError {
                    throw error
                }
                if case .failure(let error) = committed { throw error }
                if case .success(let result) = committed, result.commandTag == "ROLLBACK" {
                    throw PGError(code: .server, message: "the batch's transaction was rolled back")
                }
            }
        }
        return results
    }

    struct BatchStreams: Sendable {
        var items: [Result<PGRowStream, PGError>]
        var commit: PGRowStream?
    }

    static func collect(_ stream: PGRowStream) async -> Result<PGQueryResult, PGError> {
        var rows: [PGRow] = []
        var columns: PGRowDescription?
        while true {
            switch await stream.next() {
            case .rows(let batch, let cols):
                columns = cols
                for r in batch { rows.append(PGRow(columns: cols, data: r)) }
            case .end(.success(let tag)):
                return .success(PGQueryResult(columns: columns ?? stream.currentColumns, rows: rows, commandTag: tag))
            case .end(.failure(let error)):
                return .failure(error)
            }
        }
    }

    func startBatch(_ queries: [PGQuery], inTransaction: Bool) async throws -> BatchStreams {
        try ensureOpen()
        var items: [Result<PGRowStream, PGError>] = []
        if useUnnamedStatements {
            if inTransaction { try enqueueSimple("BEGIN") }
            for q in queries {
                do { items.append(.success(try startUnnamed(q.sql, q.bindings, timeout: nil))) } catch let e as PGError { items.append(.failure(e)) }
            }
            let commit = inTransaction ? try enqueueSimpleStream("COMMIT") : nil
            return BatchStreams(items: items, commit: commit)
        }
        // Round trip 1: prepare what is not cached, all at once.
        let prepared = queries.map { q in
            lookUpOrPrepare(key: Self.statementKey(q.sql, q.bindings), sql: q.sql, bindings: q.bindings)
        }
        var failures: [Int: PGError] = [:]
        for (i, statement) in prepared.enumerated() where !statement.ready {
            do {
                try await awaitPrepared(statement)
            } catch let e as PGError {
                if e.sqlState == .duplicatePreparedStatement {
                    // Named statements were just turned off: run the whole batch unnamed.
                    return try await startBatch(queries, inTransaction: inTransaction)
                }
                failures[i] = e
            }
        }
        if inTransaction, let first = failures.keys.min(), let error = failures[first] { throw error }
        // Round trip 2: every execution in one write (no suspension point from here on).
        if inTransaction { try enqueueSimple("BEGIN") }
        for (i, statement) in prepared.enumerated() {
            if let e = failures[i] {
                items.append(.failure(e))
                continue
            }
            do {
                items.append(.success(try enqueueExecute(statement, bindings: queries[i].bindings, timeout: nil)))
            } catch let e as PGError {
                items.append(.failure(e))
            }
        }
        let commit = inTransaction ? try enqueueSimpleStream("COMMIT") : nil
        return BatchStreams(items: items, commit: commit)
    }

    /// Queues a simple query whose result nobody awaits (its errors show up in later statements).
    func enqueueSimple(_ sql: String) throws {
        _ = try enqueueSimpleStream(sql)
    }

    /// Queues a parameterless statement as an unnamed extended query and returns its stream.
    func enqueueSimpleStream(_ sql: String) throws -> PGRowStream {
        try startUnnamed(sql, [], timeout: nil, learn: false)
    }
}
