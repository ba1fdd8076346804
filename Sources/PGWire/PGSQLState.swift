// PLACEHOLDER: replaced by Scripts/generate-sqlstate.py output.
/// A SQLSTATE code.
public struct PGSQLState: RawRepresentable, Hashable, Sendable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var name: String? { nil }
    public static let uniqueViolation = PGSQLState(rawValue: "23505")
}
