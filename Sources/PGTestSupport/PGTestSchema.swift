// A uniquely named schema per test, so store tests can run in parallel on one server.

import Foundation
import PGClient

/// A schema of its own for one test: created with a unique name on a ``TemporaryPostgres``, owned by
/// the test role, used through connections whose `search_path` is that schema alone, and dropped
/// (CASCADE) at the end. Store tests that each take one never see each other's tables, so they can run
/// in parallel on one server.
///
/// ```swift
/// try await PGTestSchema.with(on: pg, prefix: "queue") { schema in
///     let pool = PGPool(configuration: try schema.configuration())
///     try await pool.execute("CREATE TABLE items (id int)")        // lands in schema.name
///     let n = try await pool.queryOne("SELECT count(*) FROM \(identifier: "items", schema: schema.name)", as: Int.self)
///     await pool.shutdown()
/// }
/// ```
public final class PGTestSchema: Sendable {
    /// The schema's name: `t_<prefix>_<12 hex digits>`, lower-case letters, digits and `_` only, at
    /// most 63 bytes — so it needs no quoting, though ``quotedName`` is there for SQL all the same.
    public let name: String
    /// The server it lives on.
    public let postgres: TemporaryPostgres
    /// The role that owns it (and that ``url(user:password:)`` logs in as by default).
    public let owner: String

    /// `"name"`, ready to splice into SQL.
    public var quotedName: String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    init(name: String, postgres: TemporaryPostgres, owner: String) {
        self.name = name
        self.postgres = postgres
        self.owner = owner
    }

    /// A fresh schema name for `prefix` (sanitised to `[a-z0-9_]`, cut so the name fits 63 bytes).
    ///
    /// ```swift
    /// let name = PGTestSchema.uniqueName(prefix: "RateLimiter")   // "t_ratelimiter_3f9a0c1b2d4e"
    /// ```
    public static func uniqueName(prefix: String) -> String {
        let clean = String(prefix.lowercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "_" }.prefix(40))
        let random = (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        return clean.isEmpty ? "t_\(random)" : "t_\(clean)_\(random)"
    }

    /// Creates a schema with a unique name owned by `owner` (default: the server's default user).
    ///
    /// ```swift
    /// let schema = try await PGTestSchema.create(on: pg, prefix: "breaker")
    /// defer { Task { try? await schema.drop() } }
    /// ```
    public static func create(on postgres: TemporaryPostgres, prefix: String = "test", owner: String? = nil) async throws -> PGTestSchema {
        let owner = owner ?? postgres.defaultUser
        let name = uniqueName(prefix: prefix)
        let schema = PGTestSchema(name: name, postgres: postgres, owner: owner)
        let quotedOwner = "\"" + owner.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        if postgres.isExternal {
            // psql connects as the given user, who creates (and so owns) it.
            try await postgres.psql("CREATE SCHEMA \(schema.quotedName)")
        } else {
            try await postgres.psql("CREATE SCHEMA \(schema.quotedName) AUTHORIZATION \(quotedOwner)")
        }
        return schema
    }

    /// Runs `body` with a fresh schema and drops it afterwards, whether `body` returns or throws.
    ///
    /// ```swift
    /// let n = try await PGTestSchema.with(on: pg) { schema in try await useStore(schema.url()) }
    /// ```
    public static func with<T>(
        on postgres: TemporaryPostgres, prefix: String = "test", owner: String? = nil,
        _ body: (PGTestSchema) async throws -> T
    ) async throws -> T {
        let schema = try await create(on: postgres, prefix: prefix, owner: owner)
        do {
            let result = try await body(schema)
            try await schema.drop()
            return result
        } catch {
            try? await schema.drop()
            throw error
        }
    }

    /// A URL for the server whose sessions have `search_path` set to this schema alone (through the
    /// `options` startup parameter: `-c search_path=<name>`), as ``TemporaryPostgres/url(user:password:database:)``.
    ///
    /// ```swift
    /// let worker = try PGWorkerProcess.start("ledger-writer", arguments: ["--url", schema.url()])
    /// ```
    public func url(user: String? = nil, password: String? = nil) -> String {
        let base = postgres.url(user: user ?? owner, password: password)
        let options = "-c%20search_path%3D" + name
        return base + (base.contains("?") ? "&" : "?") + "options=" + options
    }

    /// A connection configuration for ``url(user:password:)``.
    ///
    /// ```swift
    /// let connection = try await PGConnection.connect(try schema.configuration())
    /// ```
    public func configuration(user: String? = nil, password: String? = nil) throws -> PGConnectionConfiguration {
        try PGConnectionConfiguration(url: url(user: user, password: password))
    }

    /// Drops the schema and everything in it (`DROP SCHEMA … CASCADE`). Idempotent.
    ///
    /// ```swift
    /// try await schema.drop()
    /// ```
    public func drop() async throws {
        try await postgres.psql("DROP SCHEMA IF EXISTS \(quotedName) CASCADE")
    }
}
