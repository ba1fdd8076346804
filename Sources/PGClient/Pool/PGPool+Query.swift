import PGPoolCore
import PGWire

extension PGPool {
    /// Runs a query on a pooled connection and streams its rows; the connection returns to the pool when the
    /// result has been read (or dropped).
    ///
    /// ```swift
    /// for try await (id, name) in try await pool.query("SELECT id, name FROM users").decode((Int, String).self) { … }
    /// ```
    public nonisolated func query(_ query: PGQuery, timeout: Duration? = nil) async throws -> PGRowSequence {
        if let (id, connection) = shared.pick() {
            // Pipelined onto an open connection that nobody holds exclusively.
            let shared = self.shared
            return PGRowSequence(stream: try await connection.run(query.sql, query.bindings, timeout: timeout) { shared.sent(id) })
        }
        let (connection, request) = try await lease()
        let stream: PGRowStream
        do {
            stream = try await connection.run(query.sql, query.bindings, timeout: timeout)
        } catch {
            await release(connection, request: request)
            throw error
        }
        stream.whenFinished { Task { await self.release(connection, request: request) } }
        return PGRowSequence(stream: stream)
    }

    /// Runs a statement on a pooled connection and returns the affected row count.
    ///
    /// ```swift
    /// try await pool.execute("DELETE FROM sessions WHERE expires < now()")
    /// ```
    @discardableResult
    public nonisolated func execute(_ query: PGQuery, timeout: Duration? = nil) async throws -> Int? {
        try await self.query(query, timeout: timeout).drainCount()
    }

    /// `PGConnection.queryOne` on a pooled connection.
    public nonisolated func queryOne(_ query: PGQuery, timeout: Duration? = nil) async throws -> PGRow {
        guard let row = try await queryOptional(query, timeout: timeout) else {
            throw PGError(code: .decoding, message: "the query returned no rows; expected exactly one", query: query.sql)
        }
        return row
    }

    /// `PGConnection.queryOptional` on a pooled connection.
    public nonisolated func queryOptional(_ query: PGQuery, timeout: Duration? = nil) async throws -> PGRow? {
        try await self.query(query, timeout: timeout).atMostOneRow(sql: query.sql)
    }

    /// `queryOne` decoded into a tuple (or one value).
    ///
    /// ```swift
    /// let n = try await pool.queryOne("SELECT count(*) FROM users", as: Int.self)
    /// ```
    public nonisolated func queryOne<each T: PGDecodable>(_ query: PGQuery, as types: (repeat each T).Type, timeout: Duration? = nil) async throws -> (repeat each T) {
        try await queryOne(query, timeout: timeout).decode((repeat each T).self)
    }

    /// `queryOne` decoded into a `Decodable` type by column name.
    @_disfavoredOverload
    public nonisolated func queryOne<T: Decodable>(_ query: PGQuery, as type: T.Type, timeout: Duration? = nil) async throws -> T {
        try await queryOne(query, timeout: timeout).decode(T.self)
    }

    /// A transaction on one pooled connection: commits when `body` returns, rolls back when it throws or the
    /// task is cancelled.
    ///
    /// ```swift
    /// try await pool.withTransaction(isolation: .serializable) { tx in
    ///     try await tx.execute("UPDATE accounts SET balance = balance - \(10) WHERE id = \(1)")
    /// }
    /// ```
    @discardableResult
    public nonisolated func withTransaction<T>(
        isolation: PGIsolationLevel? = nil, readOnly: Bool = false, deferrable: Bool = false,
        _ body: (PGConnection) async throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            try await connection.withTransaction(isolation: isolation, readOnly: readOnly, deferrable: deferrable, body)
        }
    }
}
