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
        stream.whenFinished { _ in Task { await self.release(connection, request: request) } }
        return PGRowSequence(stream: stream)
    }

    /// Runs a statement with explicit `$n` placeholders and values on a pooled connection and streams its rows.
    ///
    /// ```swift
    /// let rows = try await pool.query("SELECT name FROM users WHERE id = $1", [42]).collect()
    /// ```
    public nonisolated func query(_ sql: String, _ bindings: [any PGEncodable], timeout: Duration? = nil) async throws -> PGRowSequence {
        try await query(PGQuery(unsafeSQL: sql, bindings), timeout: timeout)
    }

    /// Runs a statement with explicit `$n` placeholders and values on a pooled connection and returns the
    /// affected row count.
    ///
    /// ```swift
    /// try await pool.execute("DELETE FROM sessions WHERE user_id = $1", [7])
    /// ```
    @discardableResult
    public nonisolated func execute(_ sql: String, _ bindings: [any PGEncodable], timeout: Duration? = nil) async throws -> Int? {
        try await query(PGQuery(unsafeSQL: sql, bindings), timeout: timeout).drainCount()
    }

    /// Prepares a statement for the whole pool: the server checks and describes it now (errors are thrown
    /// here), and each connection prepares it on its first use there and keeps it in its statement cache, so
    /// no caller has to hold a connection for the statement's life. Behind a transaction-mode pooler the runs
    /// are unnamed (see `PGConnection.prepare`), which is what keeps them valid there.
    ///
    /// ```swift
    /// let byID = try await pool.prepare("SELECT name FROM users WHERE id = $1")
    /// let name = try await byID.query([42]).collect().first?.decode(String.self, column: 0)
    /// ```
    public nonisolated func prepare(_ sql: String) async throws -> PGPoolPreparedStatement {
        _ = try await withConnection { connection in try await connection.prepare(sql) }
        return PGPoolPreparedStatement(pool: self, sql: sql)
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

/// A statement prepared for a whole pool (`PGPool.prepare`): each run takes a pooled connection, where the
/// statement is prepared on first use and then cached.
///
/// ```swift
/// let add = try await pool.prepare("SELECT $1::int4 + 1")
/// let n = try await add.query([41]).collect()[0].decode(Int.self, column: 0)   // 42
/// ```
public struct PGPoolPreparedStatement: Sendable {
    /// The pool it runs on.
    public let pool: PGPool
    /// Its SQL text.
    public let sql: String

    /// Runs it with these values and streams the rows.
    public func query(_ bindings: [any PGEncodable] = [], timeout: Duration? = nil) async throws -> PGRowSequence {
        try await pool.query(PGQuery(unsafeSQL: sql, bindings), timeout: timeout)
    }

    /// Runs it and returns the number of affected rows.
    @discardableResult
    public func execute(_ bindings: [any PGEncodable] = [], timeout: Duration? = nil) async throws -> Int? {
        try await pool.query(PGQuery(unsafeSQL: sql, bindings), timeout: timeout).drainCount()
    }
}
