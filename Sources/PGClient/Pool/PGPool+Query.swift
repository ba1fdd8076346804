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
        if var (id, connection) = shared.pick() {
            // Pipelined onto an open connection that nobody holds exclusively. A stale cached statement is not
            // retried blindly on that connection (it may be leased exclusively by now): the retry picks again —
            // the same connection (it has just dropped the statement) while still shared, another if not.
            let shared = self.shared
            var retried = false
            while true {
                let picked = id
                do {
                    return PGRowSequence(stream: try await connection.run(query.sql, query.bindings, timeout: timeout, retryStale: false) {
                        shared.sent(picked)
                    })
                } catch let stale as PGConnection.StaleStatement {
                    guard !retried, let next = shared.pick(preferring: id) ?? shared.pick() else { throw stale.error }
                    retried = true
                    (id, connection) = next
                }
            }
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
