/// The least-privilege GRANTs for a store's runtime role: USAGE on the schema, then exactly the table,
/// sequence and function privileges its statements need (``PGStoreDefinition/runtimePrivileges``) plus
/// the support objects' (SELECT on the migrations table for the start check, SELECT on the clock table
/// and EXECUTE on `tusk_now()`, USAGE on the fencing sequence). No DDL right is ever granted: setup runs
/// as the owner, the service as this role.
///
/// ```swift
/// let sql = try PGStoreGrants.statements(for: queue, names: names, role: try PGStoreIdentifier("app", what: "role name"))
/// // GRANT USAGE ON SCHEMA "tusk" TO "app";  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "tusk"."queue_items" TO "app"; …
/// ```
public enum PGStoreGrants {
    /// The GRANT statements (without trailing semicolons), in a stable order.
    ///
    /// ```swift
    /// for statement in try PGStoreGrants.statements(for: store, names: names, role: role) { print(statement + ";") }
    /// ```
    /// - Throws: `.invalidConfiguration` when a privilege names an object the store does not declare.
    /// - Parameter includeSupport: false leaves out the schema USAGE and the support objects' grants
    ///   (for printing several stores of one schema after one support section).
    public static func statements(
        for store: PGStoreDefinition, names: PGStoreNames, role: PGStoreIdentifier, includeSupport: Bool = true
    ) throws(PGStoreError) -> [String] {
        var out = includeSupport ? ["GRANT USAGE ON SCHEMA \(names.schema.quoted) TO \(role.quoted)"] : []
        let isSupport = store.name == PGStoreDefinition.support.name
        let privileges = (isSupport || !includeSupport ? [] : PGStoreDefinition.support.runtimePrivileges)
            + (isSupport && !includeSupport ? [] : store.runtimePrivileges)
        for privilege in privileges {
            switch privilege {
            case .table(let key, let list):
                let ordered = PGStorePrivilege.TablePrivilege.allCases.filter(list.contains).map(\.rawValue)
                guard !ordered.isEmpty else { continue }
                out.append("GRANT \(ordered.joined(separator: ", ")) ON TABLE \(try names.qualified(key).quoted) TO \(role.quoted)")
            case .sequence(let key):
                out.append("GRANT USAGE ON SEQUENCE \(try names.qualified(key).quoted) TO \(role.quoted)")
            case .function(let key, let signature):
                out.append("GRANT EXECUTE ON FUNCTION \(try names.qualified(key).quoted)(\(signature)) TO \(role.quoted)")
            }
        }
        return out
    }

    /// The statements as one script, one per line with semicolons.
    public static func script(for store: PGStoreDefinition, names: PGStoreNames, role: PGStoreIdentifier) throws(PGStoreError) -> String {
        try statements(for: store, names: names, role: role).map { $0 + ";\n" }.joined()
    }
}
