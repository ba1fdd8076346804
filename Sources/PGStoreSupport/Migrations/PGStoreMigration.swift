import PGCrypto

/// One numbered, checksummed schema change of a store, declared in code as a SQL template.
///
/// The template names objects by logical key (`{{schema}}`, `{{items}}`, `{{items.name}}`; see
/// ``PGStoreNames/render(_:)``), so configured schema and table names are always quoted. The checksum
/// is the SHA-256 of the template text: editing a migration after it ran is detected wherever it ran,
/// whatever names it was rendered with.
///
/// ```swift
/// let m = PGStoreMigration(version: 1, "items table", sql: """
///     CREATE TABLE {{items}} (id bigserial PRIMARY KEY, payload bytea NOT NULL,
///                             leased_until timestamptz);
///     """)
/// ```
public struct PGStoreMigration: Sendable, Hashable {
    /// 1, 2, 3, … in order, without gaps.
    public let version: Int
    /// A short title, recorded with the migration.
    public let title: String
    /// The SQL template (one or more statements).
    public let template: String
    /// SHA-256 of ``template``, lowercase hex.
    public let checksum: String

    /// Declares a migration.
    ///
    /// ```swift
    /// PGStoreMigration(version: 2, "lease index", sql: "CREATE INDEX ON {{items}} (leased_until)")
    /// ```
    public init(version: Int, _ title: String, sql template: String) {
        self.version = version
        self.title = title
        self.template = template
        self.checksum = Self.checksum(of: template)
    }

    /// SHA-256 of `text` in lowercase hex (empty only if the crypto library failed, which the migrator
    /// then reports as a mismatch rather than accepting).
    public static func checksum(of text: String) -> String {
        guard let digest = try? PGDigest.sha256(Array(text.utf8)) else { return "" }
        return hex(digest)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var s = ""
        s.reserveCapacity(bytes.count * 2)
        for b in bytes {
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 0x0f)])
        }
        return s
    }
}
