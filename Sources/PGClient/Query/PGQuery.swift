/// A SQL statement whose interpolated values are bound as parameters, never spliced into the text.
///
/// Every `\(value)` becomes `$1`, `$2`, … and travels separately in Bind. Identifiers (table and column
/// names) need an explicit `\(identifier:)`, which validates and double-quotes them; raw SQL needs an
/// explicit `\(unescaped:)`.
///
/// ```swift
/// let id = 42, name = "O'Brien"
/// let table = "users"
/// let rows = try await connection.query("SELECT * FROM \(identifier: table) WHERE id = \(id) AND name = \(name)")
/// // sent as: SELECT * FROM "users" WHERE id = $1 AND name = $2   with $1 = 42, $2 = 'O''Brien'
/// ```
public struct PGQuery: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The SQL text with `$n` placeholders.
    public var sql: String
    /// The bound values, in placeholder order.
    public var bindings: [any PGEncodable]

    /// A query with explicit placeholders and values.
    ///
    /// ```swift
    /// let q = PGQuery(unsafeSQL: "SELECT $1::int4 + 1", [41])
    /// ```
    public init(unsafeSQL sql: String, _ bindings: [any PGEncodable] = []) {
        self.sql = sql
        self.bindings = bindings
    }

    public init(stringLiteral value: String) {
        self.sql = value
        self.bindings = []
    }

    public init(stringInterpolation: StringInterpolation) {
        self.sql = stringInterpolation.sql
        self.bindings = stringInterpolation.bindings
    }

    /// The SQL text only: bound values never appear in descriptions.
    public var description: String { sql }

    /// Builds a `PGQuery` from an interpolated string literal.
    public struct StringInterpolation: StringInterpolationProtocol, Sendable {
        var sql: String
        var bindings: [any PGEncodable]

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql = ""
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            bindings = []
            bindings.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql.append(literal)
        }

        /// Binds a value as the next parameter.
        public mutating func appendInterpolation(_ value: some PGEncodable) {
            bindings.append(value)
            sql.append("$\(bindings.count)")
        }

        /// Binds an optional value (NULL when nil).
        public mutating func appendInterpolation<T: PGEncodable>(_ value: T?) {
            bindings.append(value)
            sql.append("$\(bindings.count)")
        }

        /// Appends a double-quoted identifier (`"name"`, embedded quotes doubled). Rejects empty names and
        /// NUL characters at run time by binding an impossible name, so the server reports the error.
        public mutating func appendInterpolation(identifier: String) {
            sql.append(PGIdentifier.quote(identifier))
        }

        /// Appends a schema-qualified identifier: `"schema"."name"`.
        public mutating func appendInterpolation(identifier: String, schema: String) {
            sql.append(PGIdentifier.quote(schema))
            sql.append(".")
            sql.append(PGIdentifier.quote(identifier))
        }

        /// Appends raw SQL text. Never pass user input here.
        public mutating func appendInterpolation(unescaped raw: String) {
            sql.append(raw)
        }
    }
}

/// Quoting and validation of SQL identifiers (table, schema, column and channel names).
///
/// ```swift
/// PGIdentifier.quote("my table")        // "\"my table\""
/// try PGIdentifier.validate("jobs_v2")   // ok
/// ```
public enum PGIdentifier {
    /// The longest identifier PostgreSQL keeps (NAMEDATALEN - 1 bytes).
    public static let maximumLength = 63

    /// Double-quotes `name`, doubling embedded quotes. NUL characters, which no identifier may hold, are
    /// dropped (the server would cut the name there).
    public static func quote(_ name: String) -> String {
        var out = "\""
        for scalar in name.unicodeScalars where scalar != "\0" {
            if scalar == "\"" { out.append("\"\"") } else { out.unicodeScalars.append(scalar) }
        }
        out.append("\"")
        return out
    }

    /// Checks a name from configuration: 1…63 bytes, no NUL. Throws `.invalidConfiguration` naming the problem.
    public static func validate(_ name: String, what: String = "identifier") throws(PGError) {
        if name.isEmpty {
            throw PGError(code: .invalidConfiguration, message: "the \(what) is empty")
        }
        if name.utf8.count > maximumLength {
            throw PGError(code: .invalidConfiguration, message: "the \(what) is longer than \(maximumLength) bytes")
        }
        if name.utf8.contains(0) {
            throw PGError(code: .invalidConfiguration, message: "the \(what) contains a NUL character")
        }
    }
}
