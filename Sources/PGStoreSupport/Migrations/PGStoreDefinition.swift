/// What the migrator, the grant generator and the `tusk` command line know about a store: its name,
/// the objects its SQL refers to, its migrations and the privileges its runtime statements need.
///
/// ```swift
/// let queue = PGStoreDefinition(
///     name: "queue", summary: "durable work queue",
///     objects: ["items": "queue_items"], mainObject: "items",
///     migrations: [PGStoreMigration(version: 1, "items", sql: "CREATE TABLE {{items}} (id bigserial PRIMARY KEY)")],
///     runtimePrivileges: [.table("items", [.select, .insert, .update, .delete])])
/// ```
public struct PGStoreDefinition: Sendable {
    /// The store's name: lowercase letters, digits and `_`, starting with a letter (`queue`, `ratelimit`).
    public let name: String
    /// One line for `--help` and status output.
    public var summary: String
    /// Logical key → default object name (tables, sequences, functions the templates use).
    public var objects: [String: String]
    /// The key of the table named in "schema missing" errors (nil: the migrations table).
    public var mainObject: String?
    /// The migrations, versions 1…n in order.
    public var migrations: [PGStoreMigration]
    /// What the runtime role needs beyond the support objects.
    public var runtimePrivileges: [PGStorePrivilege]

    /// Declares a store.
    ///
    /// ```swift
    /// let empty = PGStoreDefinition(name: "breaker", summary: "shared circuit breaker")
    /// ```
    public init(
        name: String, summary: String, objects: [String: String] = [:], mainObject: String? = nil,
        migrations: [PGStoreMigration] = [], runtimePrivileges: [PGStorePrivilege] = []
    ) {
        self.name = name
        self.summary = summary
        self.objects = objects
        self.mainObject = mainObject
        self.migrations = migrations
        self.runtimePrivileges = runtimePrivileges
    }

    /// The store's names in `schema`, with `overrides` replacing default object names.
    ///
    /// ```swift
    /// let names = try queue.names(schema: "tusk", overrides: ["items": "jobs"])
    /// ```
    public func names(schema: String, overrides: [String: String] = [:]) throws(PGStoreError) -> PGStoreNames {
        try PGStoreNames(schema: schema, objects: objects.merging(overrides) { $1 })
    }

    /// The store's names in an already validated schema.
    public func names(schema: PGStoreIdentifier, overrides: [String: String] = [:]) throws(PGStoreError) -> PGStoreNames {
        var ids: [String: PGStoreIdentifier] = [:]
        for (key, value) in objects.merging(overrides, uniquingKeysWith: { $1 }) {
            ids[key] = try PGStoreIdentifier(value, what: "name of \(key) in store \(name)")
        }
        return PGStoreNames(schema: schema, objects: ids)
    }

    /// Checks the name and that versions run 1…n.
    func validate() throws(PGStoreError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789_")
        guard let first = name.first, first.isLetter, first.isLowercase, name.count <= 40, name.allSatisfy(allowed.contains) else {
            throw PGStoreError(code: .invalidConfiguration,
                               message: "store name \(PGStoreIdentifier.preview(name)) must be lowercase letters, digits and _ (at most 40)")
        }
        for (index, m) in migrations.enumerated() where m.version != index + 1 {
            throw PGStoreError(code: .invalidConfiguration, store: name,
                               message: "migration versions must be 1, 2, 3, … in order; found \(m.version) at position \(index + 1)")
        }
    }
}

extension PGStoreError {
    init(code: Code, store: String, message: String) {
        self.init(code: code, message: message, store: store)
    }
}

/// A privilege the runtime role of a store needs. The grant generator turns these into GRANT statements.
///
/// ```swift
/// let needs: [PGStorePrivilege] = [
///     .table("items", [.select, .insert, .update, .delete]),
///     .sequence("items_id_seq"),
///     .function("enqueue", signature: "bytea"),
/// ]
/// ```
public enum PGStorePrivilege: Sendable, Hashable {
    /// Table privileges on the object with this key.
    case table(String, [TablePrivilege])
    /// USAGE on a sequence (nextval, currval).
    case sequence(String)
    /// EXECUTE on a function; `signature` is its argument type list as written in code (`"bigint, text"`).
    case function(String, signature: String)

    /// A table privilege.
    public enum TablePrivilege: String, Sendable, Hashable, CaseIterable {
        case select = "SELECT", insert = "INSERT", update = "UPDATE", delete = "DELETE"
    }
}
