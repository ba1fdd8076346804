import Logging
import PGTransport
import PGWire

/// The prepared-statement cache: named statements (LRU, pinned ones kept), what unnamed mode remembers of a
/// statement, and what happens when the server loses them.
extension PGConnection {
    /// The cached statement for `key`, or a new one whose Parse/Describe/Sync is queued now (not awaited).
    func lookUpOrPrepare(key: String, sql: String, bindings: [any PGEncodable]) -> PreparedStatement {
        useCounter &+= 1
        if let cached = statements[key] {
            cached.lastUsed = useCounter
            return cached
        }
        statementCounter += 1
        let statement = PreparedStatement(name: statementPrefix + String(statementCounter), sql: sql, key: key, bindings: bindings)
        statement.pinned = pinnedStatements.contains(sql)
        statement.lastUsed = useCounter
        statements[key] = statement
        enqueuePrepare(statement, types: parameterTypes(bindings))
        evictStatementsIfNeeded(keeping: key)
        return statement
    }

    /// Queues Parse + Describe(statement) + Sync for a statement (named, or the unnamed one for `prepare()` in
    /// unnamed mode); `awaitPrepared` waits for its description.
    func enqueuePrepare(_ statement: PreparedStatement, types: [PGDataType] = []) {
        let unit = makeUnitID()
        PGFrontendEncoder.parse(statement: statement.name, sql: statement.sql, parameterTypes: types, into: &out)
        PGFrontendEncoder.describe(statement: statement.name, into: &out)
        PGFrontendEncoder.sync(into: &out)
        responses.unitSent(.init(id: unit, kind: .prepare))
        contexts[unit] = .prepare(statement)
        eventLoop.scheduleFlush(self)
    }

    /// Removes a statement from the cache.
    @discardableResult
    func uncacheStatement(forKey key: String) -> PreparedStatement? {
        guard let statement = statements.removeValue(forKey: key) else { return nil }
        statement.cached = false
        if recentStatement === statement { recentStatement = nil }
        return statement
    }

    /// Removes this statement from the cache, if it is the one cached under its key.
    func uncacheStatement(_ statement: PreparedStatement) {
        if statements[statement.key] === statement { uncacheStatement(forKey: statement.key) }
    }

    /// The server no longer has a named statement it had prepared for us (26000). Its session lost them all:
    /// `DEALLOCATE ALL`, `DISCARD ALL`, or a pooler that moved this connection to another server session. The
    /// cache is emptied, so each statement is prepared again on first use; the second time it happens, a pooler
    /// is the likely cause and the connection runs unnamed statements from then on.
    func statementsLost() {
        statementLosses += 1
        for (key, statement) in statements where statement.ready { uncacheStatement(forKey: key) }
        if statementLosses >= 2 {
            switchToUnnamedStatements(because: "the server lost this connection's prepared statements twice (26000); "
                + "a connection pooler is sharing server sessions")
        } else {
            logger.debug("the server lost this connection's prepared statements (26000); preparing them again")
        }
    }

    /// The cached, described statement for this SQL and these values' types, when it is the one used last.
    @inline(__always)
    func recentStatement(_ sql: String, _ bindings: [any PGEncodable]) -> PreparedStatement? {
        guard let s = recentStatement, s.ready, s.cached, s.matches(sql, bindings) else { return nil }
        useCounter &+= 1
        s.lastUsed = useCounter
        return s
    }

    /// Unnamed mode: the record of the result formats learnt for this statement (nil with the cache off).
    @inline(__always)
    func unnamedStatement(_ sql: String, _ bindings: [any PGEncodable]) -> PreparedStatement? {
        if let s = recentUnnamed, s.matches(sql, bindings) { return s }
        guard configuration.statementCacheSize > 0 else { return nil }
        let key = Self.statementKey(sql, bindings)
        if let s = unnamedStatements[key] {
            recentUnnamed = s
            return s
        }
        if unnamedStatements.count >= configuration.statementCacheSize,
           let victim = unnamedStatements.first(where: { !$0.value.pinned })?.key {
            unnamedStatements.removeValue(forKey: victim)
        }
        let s = PreparedStatement(name: "", sql: sql, key: key, bindings: bindings)
        s.pinned = pinnedStatements.contains(sql)
        unnamedStatements[key] = s
        recentUnnamed = s
        return s
    }

    func switchToUnnamedStatements(because reason: String, level: Logger.Level = .warning) {
        guard !useUnnamedStatements else { return }
        useUnnamedStatements = true
        recentStatement = nil
        logger.log(level: level, "named prepared statements turned off for this connection; statements run unnamed from now on",
                   metadata: ["reason": "\(reason)"])
    }

    /// Closes least-recently-used statements beyond the cache size (never pinned ones or ones in use).
    func evictStatementsIfNeeded(keeping key: String) {
        let capacity = max(configuration.statementCacheSize, pinnedStatements.count)
        while statements.count > capacity {
            var victim: (key: String, used: UInt64)?
            for (k, s) in statements where k != key && s.ready && !s.pinned && s.waiters.isEmpty {
                if victim == nil || s.lastUsed < victim!.used { victim = (k, s.lastUsed) }
            }
            guard let victim, let statement = uncacheStatement(forKey: victim.key) else { return }
            enqueueClose(statement.name)
        }
    }

    func enqueueClose(_ name: String) {
        guard case .ready = phase else { return }
        PGFrontendEncoder.close(statement: name, into: &out)
        PGFrontendEncoder.sync(into: &out)
        let unit = makeUnitID()
        responses.unitSent(.init(id: unit, kind: .closeStatement))
        contexts[unit] = .closeStatement
        eventLoop.scheduleFlush(self)
    }
}

/// A statement prepared once on a connection and kept there.
///
/// ```swift
/// let add = try await connection.prepare("SELECT $1::int4 + 1")
/// for try await row in try await add.query([41]) { print(try row.decode(Int.self, column: 0)) }
/// ```
public struct PGPreparedStatement: Sendable {
    /// The connection it lives on.
    public let connection: PGConnection
    /// Its SQL text.
    public let sql: String

    /// Runs it with these values and streams the rows.
    public func query(_ bindings: [any PGEncodable] = [], timeout: Duration? = nil) async throws -> PGRowSequence {
        try await connection.query(sql, bindings, timeout: timeout)
    }

    /// Runs it and returns the number of affected rows.
    @discardableResult
    public func execute(_ bindings: [any PGEncodable] = [], timeout: Duration? = nil) async throws -> Int? {
        try await connection.execute(sql, bindings, timeout: timeout)
    }
}
