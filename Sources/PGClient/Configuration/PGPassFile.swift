import Foundation
import Logging

/// libpq's password file (`~/.pgpass`, or `passfile` / `PGPASSFILE`).
///
/// Each line is `hostname:port:database:username:password`; `*` matches anything in the first four fields, `\`
/// escapes `:` and `\`, lines starting with `#` are comments, and the first matching line wins. A Unix-socket
/// connection matches its socket directory, and `localhost` when that is a default one (`/var/run/postgresql`,
/// `/run/postgresql`, `/tmp`). As in libpq, a file that group or others may read is ignored
/// with a warning.
///
/// ```swift
/// // ~/.pgpass:  db.internal:5432:orders:app:s3cret
/// let password = PGPassFile.password(
///     path: nil, host: "db.internal", port: 5432, database: "orders", user: "app", logger: logger)  // "s3cret"
/// ```
public enum PGPassFile {
    static let defaultSocketDirectories: Set<String> = ["/var/run/postgresql", "/run/postgresql", "/tmp"]

    /// The default location: `$HOME/.pgpass` (or the home directory of the effective user).
    public static var defaultPath: String? {
        if let home = ProcessInfo.processInfo.environment["HOME"], !home.isEmpty { return home + "/.pgpass" }
        guard let entry = getpwuid(geteuid()), let dir = entry.pointee.pw_dir else { return nil }
        return String(cString: dir) + "/.pgpass"
    }

    /// The password of the first matching entry in the file at `path` (nil: the default), or nil.
    public static func password(
        path: String?, host: String, port: Int, database: String, user: String, logger: Logger
    ) -> String? {
        guard let path = path ?? defaultPath else { return nil }
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            logger.warning("password file is not a plain file", metadata: ["pg.passfile": "\(path)"])
            return nil
        }
        if st.st_mode & (S_IRWXG | S_IRWXO) != 0 {
            logger.warning(
                "password file has group or world access; permissions should be u=rw (0600) or less; ignoring it",
                metadata: ["pg.passfile": "\(path)"])
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        return lookup(text, host: host, port: port, database: database, user: user)
    }

    /// The password of the first line of `text` that matches (for tests; see the type's documentation).
    ///
    /// ```swift
    /// PGPassFile.lookup("*:*:*:app:pw\n", host: "h", port: 5432, database: "d", user: "app")  // "pw"
    /// ```
    public static func lookup(_ text: String, host: String, port: Int, database: String, user: String) -> String? {
        var host = host
        if host.hasPrefix("/") || host.hasPrefix("@") {
            // A socket path matches its directory; the default directories match `localhost` (as libpq).
            if let r = host.range(of: "/.s.PGSQL.", options: .backwards) { host = String(host[..<r.lowerBound]) }
            if host.isEmpty || defaultSocketDirectories.contains(host) { host = "localhost" }
        }
        let wanted = [host, String(port), database, user]
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            if rawLine.hasPrefix("#") { continue }
            var fields: [String] = []
            var current = ""
            var escaped = false
            for c in rawLine {
                if escaped {
                    current.append(c)
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == ":" && fields.count < 4 {
                    fields.append(current)
                    current = ""
                } else {
                    current.append(c)
                }
            }
            guard fields.count == 4 else { continue }
            var matches = true
            for i in 0..<4 where fields[i] != "*" && fields[i] != wanted[i] {
                matches = false
                break
            }
            if matches { return current.isEmpty ? nil : current }
        }
        return nil
    }
}
