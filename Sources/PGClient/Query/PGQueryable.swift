import PGWire

/// Something that runs a query and streams its rows: a `PGConnection` or a `PGPool`. The one-row
/// conveniences are written once here, on top of `query(_:timeout:)`.
///
/// ```swift
/// func count(_ db: some PGQueryable) async throws -> Int {
///     try await db.queryOne("SELECT count(*) FROM users", as: Int.self)
/// }
/// ```
public protocol PGQueryable: Sendable {
    /// Runs a statement whose interpolated values are bound as parameters, and streams its rows.
    func query(_ query: PGQuery, timeout: Duration?) async throws -> PGRowSequence
}

extension PGConnection: PGQueryable {}
extension PGPool: PGQueryable {}

extension PGQueryable {
    /// Runs a query that must return exactly one row, and returns it.
    /// Throws a `.decoding` error naming the count when it returns none or several.
    ///
    /// ```swift
    /// let row = try await connection.queryOne("SELECT count(*) FROM users")
    /// let count = try row.decode(Int.self, column: 0)
    /// ```
    public func queryOne(_ query: PGQuery, timeout: Duration? = nil) async throws -> PGRow {
        guard let row = try await queryOptional(query, timeout: timeout) else {
            throw PGError(code: .decoding, message: "the query returned no rows; expected exactly one", query: query.sql)
        }
        return row
    }

    /// Runs a query that returns at most one row; nil when it returns none. More than one is an error.
    ///
    /// ```swift
    /// let email = "a@example.com"
    /// if let row = try await connection.queryOptional("SELECT id FROM users WHERE email = \(email)") { … }
    /// ```
    public func queryOptional(_ query: PGQuery, timeout: Duration? = nil) async throws -> PGRow? {
        try await self.query(query, timeout: timeout).atMostOneRow(sql: query.sql)
    }

    /// `queryOne`, decoded into a tuple (or a single value).
    ///
    /// ```swift
    /// let (id, name) = try await connection.queryOne("SELECT 1, 'a'", as: (Int, String).self)
    /// ```
    public func queryOne<each T: PGDecodable>(_ query: PGQuery, as types: (repeat each T).Type, timeout: Duration? = nil) async throws -> (repeat each T) {
        try await queryOne(query, timeout: timeout).decode((repeat each T).self)
    }

    /// `queryOptional`, decoded into a tuple (or a single value).
    ///
    /// ```swift
    /// let name = try await connection.queryOptional("SELECT name FROM users WHERE id = \(7)", as: String.self)
    /// ```
    public func queryOptional<each T: PGDecodable>(_ query: PGQuery, as types: (repeat each T).Type, timeout: Duration? = nil) async throws -> (repeat each T)? {
        guard let row = try await queryOptional(query, timeout: timeout) else { return nil }
        return try row.decode((repeat each T).self)
    }

    /// `queryOne`, decoded into a `Decodable` type by column name.
    ///
    /// ```swift
    /// struct User: Decodable { var id: Int; var name: String }
    /// let user = try await connection.queryOne("SELECT id, name FROM users WHERE id = \(7)", as: User.self)
    /// ```
    @_disfavoredOverload
    public func queryOne<T: Decodable>(_ query: PGQuery, as type: T.Type, timeout: Duration? = nil) async throws -> T {
        try await queryOne(query, timeout: timeout).decode(T.self)
    }

    /// `queryOptional`, decoded into a `Decodable` type by column name.
    ///
    /// ```swift
    /// let user = try await connection.queryOptional("SELECT id, name FROM users WHERE id = \(7)", as: User.self)
    /// ```
    @_disfavoredOverload
    public func queryOptional<T: Decodable>(_ query: PGQuery, as type: T.Type, timeout: Duration? = nil) async throws -> T? {
        guard let row = try await queryOptional(query, timeout: timeout) else { return nil }
        return try row.decode(T.self)
    }
}
