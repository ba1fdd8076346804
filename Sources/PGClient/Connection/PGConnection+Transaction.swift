import Logging
import PGWire

/// A transaction isolation level.
public enum PGIsolationLevel: String, Sendable, CaseIterable {
    case readUncommitted = "READ UNCOMMITTED"
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"
}

extension PGConnection {
    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws or when the task is
    /// cancelled. A call nested inside another `withTransaction` on the same connection becomes a savepoint,
    /// so an inner failure rolls back only the inner work.
    ///
    /// ```swift
    /// try await connection.withTransaction(isolation: .serializable) { tx in
    ///     try await tx.execute("UPDATE accounts SET balance = balance - \(100) WHERE id = \(1)")
    ///     try await tx.execute("UPDATE accounts SET balance = balance + \(100) WHERE id = \(2)")
    /// }
    /// ```
    ///
    /// The connection must not run other work concurrently while the transaction is open: every statement
    /// issued on it belongs to the transaction.
    @discardableResult
    public nonisolated func withTransaction<T>(
        isolation: PGIsolationLevel? = nil, readOnly: Bool = false, deferrable: Bool = false,
        _ body: (PGConnection) async throws -> T
    ) async throws -> T {
        let depth = await enterTransaction()
        let savepoint = "tusk_savepoint_\(depth)"
        do {
            if depth == 0 {
                var begin = "BEGIN"
                if let isolation { begin += " ISOLATION LEVEL \(isolation.rawValue)" }
                begin += readOnly ? " READ ONLY" : ""
                if deferrable { begin += " DEFERRABLE" }
                try await simpleQuery(begin)
            } else {
                try await simpleQuery("SAVEPOINT \(savepoint)")
            }
        } catch {
            await leaveTransaction()
            throw error
        }
        let result: T
        do {
            result = try await body(self)
            try Task.checkCancellation()
        } catch {
            await rollBack(depth: depth, savepoint: savepoint)
            await leaveTransaction()
            if error is CancellationError || Task.isCancelled {
                throw PGError(code: .cancelled, message: "the transaction was rolled back because its task was cancelled",
                              serverInfo: (error as? PGError)?.serverInfo)
            }
            throw error
        }
        do {
            if depth == 0 {
                let results = try await simpleQuery("COMMIT")
                await leaveTransaction()
                if results.first?.commandTag == "ROLLBACK" {
                    throw PGError(code: .server, message: "the transaction was rolled back at COMMIT because a statement in it had failed")
                }
            } else {
                try await simpleQuery("RELEASE SAVEPOINT \(savepoint)")
                await leaveTransaction()
            }
        } catch {
            await leaveTransaction()
            throw error
        }
        return result
    }

    /// Rolls back outside the (possibly cancelled) current task, so cancellation cannot stop the rollback.
    nonisolated func rollBack(depth: Int, savepoint: String) async {
        let sql = depth == 0 ? "ROLLBACK" : "ROLLBACK TO SAVEPOINT \(savepoint); RELEASE SAVEPOINT \(savepoint)"
        let outcome = await Task { try await self.simpleQuery(sql) }.result
        if case .failure(let error) = outcome {
            await logWarning("rollback failed", error: error)
        }
    }

    func logWarning(_ message: Logger.Message, error: any Error) {
        logger.warning(message, metadata: ["error": "\(error)"])
    }

    func enterTransaction() -> Int {
        defer { transactionDepth += 1 }
        return transactionDepth
    }

    func leaveTransaction() {
        transactionDepth = max(0, transactionDepth - 1)
    }
}
