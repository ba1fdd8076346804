// PGLedger: the table multi-process tests write what happened into, and the queries that check it.

import Foundation
import PGClient

/// A table where workers record what they did — one row per event: which worker, what kind
/// (`admitted`, `processed`, `written`, …), for which key, an optional value (a sequence number, a
/// fencing token, an amount), stamped with the database's `clock_timestamp()` — and the queries that
/// check the record against what must hold: nothing lost (``missing(_:expected:on:)``), nothing done
/// twice (``duplicates(_:on:)``), no limit exceeded (``overLimit(_:window:limit:on:)``,
/// ``maxConcurrent(start:end:on:)``).
///
/// Workers should write the ledger row in the same transaction as the work it records, so a worker
/// killed mid-way leaves either both or neither (``insert(_:key:worker:value:)`` gives the statement
/// for that).
///
/// ```swift
/// let ledger = PGLedger(schema: schema.name)
/// try await ledger.create(on: pool)
/// try await ledger.record(.processed, key: "item-1", worker: "w1", on: pool)
/// #expect(try await ledger.duplicates(.processed, on: pool).isEmpty)
/// #expect(try await ledger.missing(.processed, expected: ["item-1", "item-2"], on: pool) == ["item-2"])
/// ```
public struct PGLedger: Sendable {

    /// What an entry records. Extensible: `PGLedger.Kind("leased")`.
    public struct Kind: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.rawValue = value }
        public var description: String { rawValue }

        /// A request was let through (a rate limiter's admit, a breaker's probe).
        public static let admitted = Kind("admitted")
        /// A request was turned away.
        public static let rejected = Kind("rejected")
        /// A unit of work was done (a queue item completed).
        public static let processed = Kind("processed")
        /// State was written (an actor's state saved).
        public static let written = Kind("written")
        /// Something held was taken (a slot, a lease, an activation)…
        public static let acquired = Kind("acquired")
        /// …and given back.
        public static let released = Kind("released")
    }

    /// One recorded event.
    public struct Entry: Sendable, Hashable {
        public var id: Int
        public var worker: String
        public var kind: Kind
        public var key: String
        public var value: Int?
        public var at: Date
    }

    /// A key whose count in one window passed a limit (or the busiest window).
    public struct WindowCount: Sendable, Hashable, CustomStringConvertible {
        public var key: String
        /// The time of the window's first entry.
        public var start: Date
        public var count: Int
        public var description: String { "\(key): \(count) from \(start)" }
    }

    /// The schema the table lives in (unquoted).
    public let schema: String
    /// The table's name (unquoted).
    public let table: String

    /// A ledger table `schema.table`. Names are quoted wherever they are used.
    ///
    /// ```swift
    /// let ledger = PGLedger(schema: "t_queue_0a1b2c3d4e5f")
    /// ```
    public init(schema: String, table: String = "tusk_ledger") {
        self.schema = schema
        self.table = table
    }

    /// `"schema"."table"`.
    public var qualifiedName: String { PGIdentifier.quote(schema) + "." + PGIdentifier.quote(table) }

    // MARK: Writing

    /// Creates the table (and its index) if missing.
    ///
    /// ```swift
    /// try await ledger.create(on: connection)
    /// ```
    public func create(on db: some PGQueryable) async throws {
        try PGIdentifier.validate(schema, what: "ledger schema name")
        try PGIdentifier.validate(table, what: "ledger table name")
        guard table.utf8.count <= 51 else {
            throw PGError(code: .invalidConfiguration, message: "the ledger table name is longer than 51 bytes (its index name adds 12)")
        }
        _ = try await db.query("""
            CREATE TABLE IF NOT EXISTS \(identifier: table, schema: schema) (
                id bigserial PRIMARY KEY,
                worker text NOT NULL,
                kind text NOT NULL,
                key text NOT NULL,
                value bigint,
                at timestamptz NOT NULL DEFAULT clock_timestamp()
            )
            """, timeout: nil).collect()
        _ = try await db.query(
            "CREATE INDEX IF NOT EXISTS \(identifier: table + "_kind_key_at") ON \(identifier: table, schema: schema) (kind, key, at)",
            timeout: nil).collect()
    }

    /// The INSERT for one entry, to run inside the transaction that does the work.
    ///
    /// ```swift
    /// try await connection.withTransaction { tx in
    ///     try await tx.execute("UPDATE items SET done = true WHERE id = \(id)")
    ///     try await tx.execute(ledger.insert(.processed, key: "\(id)", worker: me))
    /// }
    /// ```
    public func insert(_ kind: Kind, key: String, worker: String, value: Int? = nil) -> PGQuery {
        "INSERT INTO \(identifier: table, schema: schema) (worker, kind, key, value) VALUES (\(worker), \(kind.rawValue), \(key), \(value))"
    }

    /// Records one entry (its own statement).
    ///
    /// ```swift
    /// try await ledger.record(.admitted, key: "user-7", worker: "w2", on: pool)
    /// ```
    public func record(_ kind: Kind, key: String, worker: String, value: Int? = nil, on db: some PGQueryable) async throws {
        _ = try await db.query(insert(kind, key: key, worker: worker, value: value), timeout: nil).collect()
    }

    // MARK: Reading

    /// Every entry, oldest first (optionally of one kind).
    ///
    /// ```swift
    /// let all = try await ledger.entries(on: pool)
    /// ```
    public func entries(_ kind: Kind? = nil, on db: some PGQueryable) async throws -> [Entry] {
        let rows = try await db.query(
            "SELECT id, worker, kind, key, value, at FROM \(identifier: table, schema: schema) WHERE \(kind?.rawValue)::text IS NULL OR kind = \(kind?.rawValue) ORDER BY at, id",
            timeout: nil
        ).decode((Int, String, String, String, Int?, Date).self).collect()
        return rows.map { Entry(id: $0.0, worker: $0.1, kind: Kind($0.2), key: $0.3, value: $0.4, at: $0.5) }
    }

    /// How many entries of `kind` there are.
    ///
    /// ```swift
    /// let admitted = try await ledger.count(.admitted, on: pool)
    /// ```
    public func count(_ kind: Kind, on db: some PGQueryable) async throws -> Int {
        try await db.queryOne("SELECT count(*) FROM \(identifier: table, schema: schema) WHERE kind = \(kind.rawValue)", as: Int.self)
    }

    /// Keys recorded more than once as `kind`, with their counts (nothing done twice: expect empty).
    ///
    /// ```swift
    /// #expect(try await ledger.duplicates(.processed, on: pool).isEmpty)
    /// ```
    public func duplicates(_ kind: Kind, on db: some PGQueryable) async throws -> [String: Int] {
        let rows = try await db.query(
            "SELECT key, count(*) FROM \(identifier: table, schema: schema) WHERE kind = \(kind.rawValue) GROUP BY key HAVING count(*) > 1",
            timeout: nil
        ).decode((String, Int).self).collect()
        return Dictionary(rows.map { ($0.0, $0.1) }, uniquingKeysWith: { $1 })
    }

    /// Expected keys never recorded as `kind`, sorted (nothing lost: expect empty).
    ///
    /// ```swift
    /// #expect(try await ledger.missing(.processed, expected: ids.map(String.init), on: pool).isEmpty)
    /// ```
    public func missing(_ kind: Kind, expected: [String], on db: some PGQueryable) async throws -> [String] {
        try await db.query(
            """
            SELECT e FROM unnest(\(expected)::text[]) AS e
            WHERE NOT EXISTS (SELECT 1 FROM \(identifier: table, schema: schema) l WHERE l.kind = \(kind.rawValue) AND l.key = e)
            GROUP BY e ORDER BY e
            """,
            timeout: nil
        ).decode(String.self).collect()
    }

    /// Keys recorded as `kind` that were not expected, sorted (nothing invented: expect empty).
    ///
    /// ```swift
    /// #expect(try await ledger.unexpected(.processed, expected: ids, on: pool).isEmpty)
    /// ```
    public func unexpected(_ kind: Kind, expected: [String], on db: some PGQueryable) async throws -> [String] {
        try await db.query(
            "SELECT DISTINCT key FROM \(identifier: table, schema: schema) WHERE kind = \(kind.rawValue) AND NOT (key = ANY(\(expected)::text[])) ORDER BY key",
            timeout: nil
        ).decode(String.self).collect()
    }

    /// For each key, the most entries of `kind` in any window of length `window` that starts at one of
    /// its entries (a sliding window); sorted by count, busiest first.
    ///
    /// ```swift
    /// let busiest = try await ledger.maxInWindow(.admitted, window: .seconds(1), on: pool).first
    /// ```
    public func maxInWindow(_ kind: Kind, window: Duration, on db: some PGQueryable) async throws -> [WindowCount] {
        let seconds = Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
        let rows = try await db.query(
            """
            SELECT DISTINCT ON (a.key) a.key, a.at, count(*)::int8 AS n
            FROM \(identifier: table, schema: schema) a
            JOIN \(identifier: table, schema: schema) b
              ON b.kind = a.kind AND b.key = a.key AND b.at >= a.at AND b.at < a.at + make_interval(secs => \(seconds))
            WHERE a.kind = \(kind.rawValue)
            GROUP BY a.id, a.key, a.at
            ORDER BY a.key, n DESC, a.at
            """,
            timeout: nil
        ).decode((String, Date, Int).self).collect()
        return rows.map { WindowCount(key: $0.0, start: $0.1, count: $0.2) }.sorted { ($0.count, $1.key) > ($1.count, $0.key) }
    }

    /// Keys whose busiest `window` held more than `limit` entries of `kind` (no limit exceeded: expect empty).
    ///
    /// ```swift
    /// #expect(try await ledger.overLimit(.admitted, window: .seconds(1), limit: 10, on: pool).isEmpty)
    /// ```
    public func overLimit(_ kind: Kind, window: Duration, limit: Int, on db: some PGQueryable) async throws -> [WindowCount] {
        try await maxInWindow(kind, window: window, on: db).filter { $0.count > limit }
    }

    /// For each key, the most `start` entries not yet matched by an `end` entry at any moment (e.g. slots
    /// held at once: `maxConcurrent(start: .acquired, end: .released)`), busiest first.
    ///
    /// ```swift
    /// let held = try await ledger.maxConcurrent(start: .acquired, end: .released, on: pool)
    /// #expect(held.allSatisfy { $0.count <= 3 })
    /// ```
    public func maxConcurrent(start: Kind, end: Kind, on db: some PGQueryable) async throws -> [WindowCount] {
        let rows = try await db.query(
            """
            SELECT DISTINCT ON (key) key, at, running::int8 FROM (
                SELECT key, at, id, sum(CASE WHEN kind = \(start.rawValue) THEN 1 ELSE -1 END)
                    OVER (PARTITION BY key ORDER BY at, id) AS running
                FROM \(identifier: table, schema: schema) WHERE kind IN (\(start.rawValue), \(end.rawValue))
            ) r
            ORDER BY key, running DESC, at
            """,
            timeout: nil
        ).decode((String, Date, Int).self).collect()
        return rows.map { WindowCount(key: $0.0, start: $0.1, count: $0.2) }.sorted { ($0.count, $1.key) > ($1.count, $0.key) }
    }
}
