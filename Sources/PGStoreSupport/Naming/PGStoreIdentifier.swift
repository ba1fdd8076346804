import PGClient

/// A validated SQL identifier (schema, table, sequence, function or role name) that is always quoted
/// when it reaches SQL.
///
/// Names from configuration are checked once, here: non-empty, at most 63 bytes (PostgreSQL's
/// `NAMEDATALEN - 1`, beyond which the server would silently cut the name) and without NUL. The only
/// way to put one into SQL is ``quoted``, so a name is never spliced unquoted.
///
/// ```swift
/// let schema = try PGStoreIdentifier("My \"odd\" schema", what: "schema name")
/// schema.quoted   // "\"My \"\"odd\"\" schema\""
/// try PGStoreIdentifier("", what: "schema name")   // PGStoreError.invalidConfiguration: the schema name is empty
/// ```
public struct PGStoreIdentifier: Sendable, Hashable, CustomStringConvertible {
    /// The name as PostgreSQL stores it (case preserved, not quoted).
    public let name: String

    /// The longest name PostgreSQL keeps, in bytes.
    public static let maximumLength = 63

    /// Validates `name`; `what` names it in the error ("schema name", "role name", …).
    ///
    /// ```swift
    /// let table = try PGStoreIdentifier("leases", what: "table name")
    /// ```
    /// - Throws: ``PGStoreError`` with code `.invalidConfiguration` saying what is wrong.
    public init(_ name: String, what: String = "identifier") throws(PGStoreError) {
        if name.isEmpty {
            throw PGStoreError(code: .invalidConfiguration, message: "the \(what) is empty; give a name of 1 to 63 bytes")
        }
        if let nul = name.utf8.firstIndex(of: 0) {
            let offset = name.utf8.distance(from: name.utf8.startIndex, to: nul)
            throw PGStoreError(
                code: .invalidConfiguration,
                message: "the \(what) contains a NUL character (at byte \(offset)); PostgreSQL names cannot hold NUL")
        }
        let bytes = name.utf8.count
        if bytes > Self.maximumLength {
            throw PGStoreError(
                code: .invalidConfiguration,
                message: "the \(what) \(Self.preview(name)) is \(bytes) bytes long; PostgreSQL names hold at most \(Self.maximumLength) bytes")
        }
        self.name = name
    }

    /// A name fixed in this module's code (the support objects' names): short, non-empty, no NUL.
    init(constant name: StaticString) {
        self.name = name.description
    }

    /// The name double-quoted for SQL, embedded quotes doubled: `"My ""odd"" schema"`.
    public var quoted: String { PGIdentifier.quote(name) }

    /// The quoted form, so that interpolating an identifier into a log line shows exactly what SQL sees.
    public var description: String { quoted }

    /// The first 20 characters of a too-long name, quoted, for error messages.
    static func preview(_ name: String) -> String {
        let head = String(name.prefix(20))
        return PGIdentifier.quote(head + (head.count < name.count ? "…" : ""))
    }
}

/// A schema-qualified name, `"schema"."name"`, both parts validated and quoted.
///
/// ```swift
/// let table = PGQualifiedName(schema: try PGStoreIdentifier("tusk"), name: try PGStoreIdentifier("leases"))
/// table.quoted   // "\"tusk\".\"leases\""
/// ```
public struct PGQualifiedName: Sendable, Hashable, CustomStringConvertible {
    /// The schema.
    public let schema: PGStoreIdentifier
    /// The object's name inside the schema.
    public let name: PGStoreIdentifier

    /// Creates a qualified name from two validated parts.
    ///
    /// ```swift
    /// let seq = PGQualifiedName(schema: schema, name: try PGStoreIdentifier("tusk_fencing"))
    /// ```
    public init(schema: PGStoreIdentifier, name: PGStoreIdentifier) {
        self.schema = schema
        self.name = name
    }

    /// `"schema"."name"`, for SQL.
    public var quoted: String { schema.quoted + "." + name.quoted }

    /// The quoted form.
    public var description: String { quoted }
}
