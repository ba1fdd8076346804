import Foundation

/// The names one store uses in one schema: the schema and each object the store's SQL refers to by a
/// logical key (`"items"` → `"tusk"."queue_items"`), all validated.
///
/// Every store also sees the support objects every schema gets: ``migrationsTable``, ``clockTable``,
/// ``clockFunction`` and ``fencingSequence``.
///
/// ```swift
/// let names = try PGStoreNames(schema: "tusk", objects: ["items": "queue_items"])
/// try names.qualified("items").quoted   // "\"tusk\".\"queue_items\""
/// ```
public struct PGStoreNames: Sendable, Hashable {
    /// The schema holding the store's objects.
    public var schema: PGStoreIdentifier
    /// Logical key → configured object name.
    public var objects: [String: PGStoreIdentifier]

    /// The table recording applied migrations: `(store, version, title, checksum, applied_at, applied_by)`.
    public static let migrationsTable = "tusk_schema_migrations"
    /// The one-row table holding the clock's shift (tests move time forward with it).
    public static let clockTable = "tusk_clock"
    /// The time function all store SQL reads: `clock_timestamp()` plus the clock's shift.
    public static let clockFunction = "tusk_now"
    /// The sequence fencing tokens come from.
    public static let fencingSequence = "tusk_fencing"
    /// The support objects, present in every store's names under their own keys.
    public static let supportObjects = [migrationsTable, clockTable, clockFunction, fencingSequence]

    /// Creates names from validated identifiers.
    ///
    /// ```swift
    /// let names = PGStoreNames(schema: try PGStoreIdentifier("tusk"), objects: [:])
    /// ```
    public init(schema: PGStoreIdentifier, objects: [String: PGStoreIdentifier] = [:]) {
        self.schema = schema
        var all = objects
        for key in Self.supportObjects where all[key] == nil {
            // The support names are fixed, short, valid identifiers.
            if let id = try? PGStoreIdentifier(key) { all[key] = id }
        }
        self.objects = all
    }

    /// Validates `schema` and every object name.
    ///
    /// ```swift
    /// let names = try PGStoreNames(schema: "tusk", objects: ["leases": "my_leases"])
    /// ```
    /// - Throws: ``PGStoreError`` `.invalidConfiguration` naming the bad name.
    public init(schema: String, objects: [String: String] = [:]) throws(PGStoreError) {
        let schemaID = try PGStoreIdentifier(schema, what: "schema name")
        var ids: [String: PGStoreIdentifier] = [:]
        for (key, value) in objects {
            ids[key] = try PGStoreIdentifier(value, what: "name of \(key)")
        }
        self.init(schema: schemaID, objects: ids)
    }

    /// The object registered under `key`, qualified with the schema.
    ///
    /// ```swift
    /// let table = try names.qualified("leases")   // "tusk"."leases"
    /// ```
    public func qualified(_ key: String) throws(PGStoreError) -> PGQualifiedName {
        guard let name = objects[key] else {
            throw PGStoreError(code: .invalidConfiguration,
                               message: "no object named \(key) is declared (known: \(objects.keys.sorted().joined(separator: ", ")))")
        }
        return PGQualifiedName(schema: schema, name: name)
    }

    /// Renders a SQL template: `{{schema}}` becomes the quoted schema, `{{key}}` the quoted qualified name
    /// of object `key`, `{{key.name}}` its quoted unqualified name. Nothing else is substituted, so the
    /// template's own text (written in code) is the only unquoted SQL.
    ///
    /// ```swift
    /// try names.render("SELECT count(*) FROM {{leases}}")   // SELECT count(*) FROM "tusk"."leases"
    /// ```
    /// - Throws: `.invalidConfiguration` for an unknown key or an unclosed `{{`.
    public func render(_ template: String) throws(PGStoreError) -> String {
        var out = ""
        var rest = template[...]
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw PGStoreError(code: .invalidConfiguration, message: "a SQL template has an unclosed {{")
            }
            let token = String(rest[open.upperBound..<close.lowerBound]).trimmingWhitespace()
            if token == "schema" {
                out += schema.quoted
            } else if token.hasSuffix(".name") {
                out += try qualified(String(token.dropLast(5))).name.quoted
            } else {
                out += try qualified(token).quoted
            }
            rest = rest[close.upperBound...]
        }
        out += rest
        return out
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
