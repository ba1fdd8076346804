import Foundation
import PGClient

/// The database's clock for a store schema: every store decision reads time through
/// `<schema>.tusk_now()` (``sqlNow``), which is `clock_timestamp()` plus a shift kept in
/// `<schema>.tusk_clock` — zero in production. Tests (and administrators) move time forward with
/// ``advance(by:on:)`` instead of sleeping; app-server `Date()` never enters a decision.
///
/// ```swift
/// let clock = PGStoreClock(schema: names.schema)
/// try await clock.advance(by: .seconds(30), on: connection)   // cooldowns and leases expire now
/// let now = try await clock.now(on: connection)
/// ```
public struct PGStoreClock: Sendable {
    /// The schema holding the clock.
    public let schema: PGStoreIdentifier

    /// The clock of `schema`.
    ///
    /// ```swift
    /// let clock = PGStoreClock(schema: try PGStoreIdentifier("tusk"))
    /// ```
    public init(schema: PGStoreIdentifier) {
        self.schema = schema
    }

    /// `"schema"."tusk_now"`.
    public var function: PGQualifiedName { PGQualifiedName(schema: schema, name: PGMigrator.fixed(PGStoreNames.clockFunction)) }
    /// `"schema"."tusk_clock"`.
    public var table: PGQualifiedName { PGQualifiedName(schema: schema, name: PGMigrator.fixed(PGStoreNames.clockTable)) }
    /// The SQL expression for "now" in store statements: `"schema"."tusk_now"()`.
    public var sqlNow: String { function.quoted + "()" }

    /// The database's current time (shift included).
    ///
    /// ```swift
    /// let now = try await clock.now(on: pool)
    /// ```
    public func now(on db: some PGQueryable) async throws(PGStoreError) -> Date {
        try await storeCall(nil) {
            try await db.queryOne(PGQuery(unsafeSQL: "SELECT \(sqlNow)"), as: (Date).self)
        }
    }

    /// The current shift.
    public func shift(on db: some PGQueryable) async throws(PGStoreError) -> Duration {
        try await storeCall(nil) {
            let micros = try await db.queryOne(PGQuery(unsafeSQL: "SELECT (extract(epoch FROM shift) * 1000000)::int8 FROM \(table.quoted)"),
                                               as: (Int64).self)
            return .microseconds(micros)
        }
    }

    /// Moves the clock forward by `duration` (negative moves it back). For tests and administrators: the
    /// runtime role cannot (it has only SELECT on the clock table).
    ///
    /// ```swift
    /// try await clock.advance(by: .seconds(61), on: connection)   // a 60 s window has passed
    /// ```
    public func advance(by duration: Duration, on db: some PGQueryable) async throws(PGStoreError) {
        let micros = duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
        try await storeCall(nil) {
            let q = PGQuery(unsafeSQL: "UPDATE \(table.quoted) SET shift = shift + make_interval(secs => $1::float8 / 1000000) RETURNING 1",
                            [Double(micros)])
            for try await _ in try await db.query(q, timeout: nil) {}
        }
    }

    /// Sets the shift back to zero.
    public func reset(on db: some PGQueryable) async throws(PGStoreError) {
        try await storeCall(nil) {
            for try await _ in try await db.query(PGQuery(unsafeSQL: "UPDATE \(table.quoted) SET shift = interval '0' RETURNING 1"), timeout: nil) {}
        }
    }
}
