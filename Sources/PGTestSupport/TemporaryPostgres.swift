// TemporaryPostgres: a throw-away PostgreSQL cluster for tests, benchmarks and the CLI.
//
// It does not use the Tusk driver for its own setup: the roles and the database are created
// with `psql` from the same installation as the server.

import Foundation
import Synchronization

/// A PostgreSQL server for tests.
///
/// Managed mode (the default): `initdb` into a fresh directory under /tmp, then `postgres` on a
/// free port of 127.0.0.1 and on a Unix socket inside that directory, configured for speed
/// (fsync off) and with one role per authentication method (``roles``; from
/// `Fixtures/setup.sql` and `Fixtures/pg_hba.conf`). When the process runs as root, the server
/// runs as the `postgres` OS user. The server is stopped and its directory removed by ``stop()``,
/// at process exit (atexit), and by a small watchdog shell process when the test process dies
/// without running atexit handlers (crash, SIGKILL).
///
/// External mode: when `DATABASE_URL` or `PGHOST` is set, ``shared()`` starts nothing and
/// describes that server instead (``isExternal`` is true). The auth-method roles of ``roles``
/// then exist only if the server was set up with `Fixtures/setup.sql` (docker-compose.yml does
/// that); ``hasAuthRoles`` tells (it is detected with psql; `TUSK_PG_AUTH_ROLES=1`/`0`
/// overrides). In external mode `url()`/`keywordValue()` default to the user, password and
/// database that were given, and ``psql(_:)`` connects as that user.
///
/// ```swift
/// let pg = try await TemporaryPostgres.shared()
/// let url = pg.url()                                  // tusk_trust@127.0.0.1:port/tusk
/// let scram = pg.url(user: "tusk_scram", password: "tusk_scram_pw")
/// let pid = try await pg.psql("select pg_backend_pid()")
/// ```
///
/// Environment: `TUSK_PG_BINDIR` picks the server binaries; `TUSK_FIXTURES_DIR` the directory
/// holding pg_hba.conf and setup.sql; `TUSK_PG_TMPDIR` the parent of the temporary directory
/// (default /tmp; keep it short, socket paths are limited to ~100 bytes).
public final class TemporaryPostgres: Sendable {

    // MARK: Roles

    /// A role created by `Fixtures/setup.sql`, with the pg_hba.conf method that applies to it.
    public struct Role: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        /// The password, nil for `trust`.
        public let password: String?
        /// The pg_hba.conf method: "trust", "password", "md5" or "scram-sha-256".
        public let method: String

        public init(name: String, password: String?, method: String) {
            self.name = name
            self.password = password
            self.method = method
        }

        public var description: String { "\(name) (\(method))" }

        public static let trust = Role(name: "tusk_trust", password: nil, method: "trust")
        public static let password = Role(name: "tusk_password", password: "tusk_password_pw", method: "password")
        public static let md5 = Role(name: "tusk_md5", password: "tusk_md5_pw", method: "md5")
        public static let scram = Role(name: "tusk_scram", password: "tusk_scram_pw", method: "scram-sha-256")
        public static let scramUTF8 = Role(name: "tusk_scram_utf8", password: "pässwörd ✓", method: "scram-sha-256")
        /// scram-sha-256 over TLS only (`hostssl`).
        public static let tls = Role(name: "tusk_tls", password: "tusk_tls_pw", method: "scram-sha-256")
        /// Client-certificate authentication over TLS (`hostssl … cert`); Fixtures/tls/client.crt has CN = tusk_cert.
        public static let cert = Role(name: "tusk_cert", password: nil, method: "cert")
        /// scram-sha-256 without TLS only (`hostnossl`), for sslmode=prefer's retry without TLS.
        public static let noSSL = Role(name: "tusk_nossl", password: "tusk_nossl_pw", method: "scram-sha-256")
    }

    /// The roles whose pg_hba.conf lines depend on TLS (`hostssl`/`hostnossl`); not in ``roles``.
    public static let tlsRoles: [Role] = [.tls, .cert, .noSSL]

    /// The directory of the TLS fixtures (`Fixtures/tls`: ca.crt, server.crt/.key, untrusted-ca.crt,
    /// wrong-host.crt/.key, client.crt/.key), made by Scripts/generate-test-certs.sh.
    ///
    /// ```swift
    /// let ca = try TemporaryPostgres.tlsFixturesDirectory() + "/ca.crt"
    /// ```
    public static func tlsFixturesDirectory() throws -> String {
        try fixturesDirectory(explicit: nil) + "/tls"
    }

    /// Every role of `Fixtures/setup.sql` (the superuser `postgres`, trust, is not listed).
    public static let roles: [Role] = [.trust, .password, .md5, .scram, .scramUTF8]

    /// The default database created by setup.sql (owned by `tusk_trust`).
    public static let databaseName = "tusk"
    /// The superuser of a managed cluster (trust over the socket and 127.0.0.1).
    public static let superuser = "postgres"

    // MARK: Options

    public struct Options: Sendable {
        /// Extra postgresql.conf settings, written as `name = value` (value verbatim, so quote
        /// strings yourself: `["log_statement": "'all'"]`). They override the defaults.
        public var settings: [String: String]
        /// Create the roles and the `tusk` database (Fixtures/setup.sql, Fixtures/pg_hba.conf).
        /// When false, pg_hba.conf trusts everyone on the socket and 127.0.0.1.
        public var applyFixtures: Bool
        /// Port to use; nil picks a free one (and retries with another if it is taken).
        public var port: Int?
        /// Directory with postgres, initdb, pg_ctl and psql; nil searches for them.
        public var binDirectory: String?
        /// Directory with pg_hba.conf and setup.sql; nil uses `TUSK_FIXTURES_DIR` or the
        /// package's Fixtures/ directory.
        public var fixturesDirectory: String?
        /// How long to wait for the server to accept connections.
        public var startTimeout: Duration
        /// The certificate the server presents, by name in Fixtures/tls (`server`, `wrong-host`,
        /// `untrusted-server`), with ssl = on and ca.crt as the CA for client certificates; nil turns
        /// ssl off. Applies only with ``applyFixtures``.
        public var tlsCertificate: String?

        public init(
            settings: [String: String] = [:],
            applyFixtures: Bool = true,
            port: Int? = nil,
            binDirectory: String? = nil,
            fixturesDirectory: String? = nil,
            startTimeout: Duration = .seconds(30),
            tlsCertificate: String? = "server"
        ) {
            self.tlsCertificate = tlsCertificate
            self.settings = settings
            self.applyFixtures = applyFixtures
            self.port = port
            self.binDirectory = binDirectory
            self.fixturesDirectory = fixturesDirectory
            self.startTimeout = startTimeout
        }
    }

    // MARK: Properties

    /// True when this describes a server named by `DATABASE_URL`/`PGHOST` (nothing was started).
    public let isExternal: Bool
    /// True when the roles of ``roles`` (and the `tusk` database) are known to exist.
    public let hasAuthRoles: Bool
    /// The `DATABASE_URL` (or a URL built from `PGHOST` & co.) in external mode; nil otherwise.
    public let externalURL: String?
    /// "127.0.0.1" for a managed cluster; the given host in external mode (may be a socket
    /// directory when PGHOST names one).
    public let host: String
    public let port: Int
    /// The Unix socket directory; nil in external mode unless PGHOST/`host=` names a directory.
    public let socketDirectory: String?
    /// The directory of postgres/initdb/pg_ctl/psql; nil in external mode when none was found.
    public let binDirectory: String?
    /// The data directory (inside ``temporaryDirectory``); nil in external mode.
    public let dataDirectory: String?
    /// The directory holding data, socket and log, removed on stop; nil in external mode.
    public let temporaryDirectory: String?
    /// The server log; nil in external mode.
    public let logFile: String?
    /// True when the server was started with ssl = on (managed mode; in external mode, when `show ssl` says on).
    public let isTLSEnabled: Bool
    /// `server_version`, e.g. "15.14 (Debian 15.14-0+deb12u1)"; "" if unknown (external
    /// mode without psql).
    public let serverVersion: String
    /// `server_version_num`, e.g. 150014; 0 if unknown.
    public let serverVersionNumber: Int
    /// Default user for ``url(user:password:database:)``: "tusk_trust", or the external user.
    public let defaultUser: String
    /// Default database: "tusk", or the external database.
    public let defaultDatabase: String
    let defaultPassword: String?
    /// True when the server processes run as the `postgres` OS user via runuser/setpriv.
    let runAs: RunAs?
    let psqlUser: String
    let startTimeout: Duration

    struct State: Sendable {
        var running: Bool
        var postmasterPID: Int?
    }
    let state: Mutex<State>
    /// Serializes stop() and restart().
    let lifecycle = Mutex<Task<Void, Never>?>(nil)

    /// The postmaster's process id; nil in external mode or once stopped.
    public var postmasterPID: Int? { state.withLock { $0.postmasterPID } }
    /// False once ``stop()`` has run (always true in external mode).
    public var isRunning: Bool { state.withLock { $0.running } }

    init(
        isExternal: Bool, hasAuthRoles: Bool, externalURL: String?, host: String, port: Int,
        socketDirectory: String?, binDirectory: String?, dataDirectory: String?,
        temporaryDirectory: String?, logFile: String?, serverVersion: String,
        serverVersionNumber: Int, defaultUser: String, defaultDatabase: String,
        defaultPassword: String?, runAs: RunAs?, psqlUser: String, postmasterPID: Int?,
        startTimeout: Duration, isTLSEnabled: Bool = false
    ) {
        self.isTLSEnabled = isTLSEnabled
        self.startTimeout = startTimeout
        self.isExternal = isExternal
        self.hasAuthRoles = hasAuthRoles
        self.externalURL = externalURL
        self.host = host
        self.port = port
        self.socketDirectory = socketDirectory
        self.binDirectory = binDirectory
        self.dataDirectory = dataDirectory
        self.temporaryDirectory = temporaryDirectory
        self.logFile = logFile
        self.serverVersion = serverVersion
        self.serverVersionNumber = serverVersionNumber
        self.defaultUser = defaultUser
        self.defaultDatabase = defaultDatabase
        self.defaultPassword = defaultPassword
        self.runAs = runAs
        self.psqlUser = psqlUser
        self.state = Mutex(State(running: true, postmasterPID: postmasterPID))
    }

    // MARK: Shared instance

    private static let sharedTask = Mutex<Task<TemporaryPostgres, any Error>?>(nil)

    /// The cluster shared by the whole process: started on first use (concurrent callers wait
    /// for the same start), reused afterwards, stopped at process exit. In external mode
    /// (`DATABASE_URL`/`PGHOST` set) it describes that server instead. A failed start is
    /// remembered (every caller gets the same error) so that a broken setup fails fast.
    /// Do not call ``stop()`` on it; if you do, the next `shared()` starts a new cluster.
    public static func shared() async throws -> TemporaryPostgres {
        let task: Task<TemporaryPostgres, any Error> = sharedTask.withLock { slot in
            if let existing = slot {
                return existing
            }
            let task = Task<TemporaryPostgres, any Error> {
                if let external = try await external(environment: ProcessInfo.processInfo.environment) {
                    return external
                }
                return try await start(options: Options())
            }
            slot = task
            return task
        }
        let instance = try await task.value
        if instance.isRunning {
            return instance
        }
        // Someone stopped the shared cluster: replace it (once, for all concurrent callers).
        let replacement: Task<TemporaryPostgres, any Error> = sharedTask.withLock { slot in
            if let current = slot, current != task {
                return current
            }
            let task = Task<TemporaryPostgres, any Error> { try await start(options: Options()) }
            slot = task
            return task
        }
        return try await replacement.value
    }

    /// Starts a private cluster (always managed, whatever the environment says). Stop it with
    /// ``stop()``; it is also stopped at process exit and by the watchdog.
    public static func start(options: Options = Options()) async throws -> TemporaryPostgres {
        try await startManaged(options: options)
    }

    // MARK: Connection strings

    /// `postgres://user:password@127.0.0.1:port/database`, user and password percent-encoded.
    /// Defaults: ``defaultUser`` ("tusk_trust"), no password (or the external one when the
    /// user is the external default), ``defaultDatabase`` ("tusk").
    public func url(user: String? = nil, password: String? = nil, database: String? = nil) -> String {
        let (user, password, database) = resolve(user, password, database)
        return Self.makeURL(host: host, port: port, user: user, password: password, database: database)
    }

    static func makeURL(host: String, port: Int, user: String, password: String?, database: String) -> String {
        var s = "postgres://" + percentEncode(user)
        if let password {
            s += ":" + percentEncode(password)
        }
        if host.hasPrefix("/") {
            // A socket directory (external PGHOST): libpq style.
            return s + "@/" + percentEncode(database) + "?host=" + percentEncode(host, keepSlash: true) + "&port=\(port)"
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return s + "@" + hostPart + ":\(port)/" + percentEncode(database)
    }

    /// libpq-style Unix socket URL: `postgres://user[:password]@/database?host=/socket/dir&port=N`.
    /// Falls back to ``url(user:password:database:)`` when there is no socket (external TCP).
    public func socketURL(user: String? = nil, password: String? = nil, database: String? = nil) -> String {
        guard let socketDirectory else {
            return url(user: user, password: password, database: database)
        }
        let (user, password, database) = resolve(user, password, database)
        var s = "postgres://" + Self.percentEncode(user)
        if let password {
            s += ":" + Self.percentEncode(password)
        }
        return s + "@/" + Self.percentEncode(database) + "?host="
            + Self.percentEncode(socketDirectory, keepSlash: true) + "&port=\(port)"
    }

    /// libpq keyword/value string: `host=127.0.0.1 port=N user=tusk_trust dbname=tusk`
    /// (`host=` is the socket directory when `useSocket`); values quoted when needed.
    public func keywordValue(
        user: String? = nil, password: String? = nil, database: String? = nil, useSocket: Bool = false
    ) -> String {
        let (user, password, database) = resolve(user, password, database)
        let h = useSocket ? (socketDirectory ?? host) : host
        var parts = ["host=" + Self.quoteKeywordValue(h), "port=\(port)", "user=" + Self.quoteKeywordValue(user)]
        if let password {
            parts.append("password=" + Self.quoteKeywordValue(password))
        }
        parts.append("dbname=" + Self.quoteKeywordValue(database))
        return parts.joined(separator: " ")
    }

    private func resolve(_ user: String?, _ password: String?, _ database: String?) -> (String, String?, String) {
        let u = user ?? defaultUser
        let p = password ?? (u == defaultUser ? defaultPassword : nil)
        return (u, p, database ?? defaultDatabase)
    }

    /// The role with this name from ``roles``.
    public static func role(named name: String) -> Role? {
        roles.first { $0.name == name }
    }

    // MARK: psql

    /// The outcome of ``runPsql(_:user:password:database:useSocket:timeout:)``.
    public struct PsqlResult: Sendable {
        public let exitCode: Int32
        public let output: String
        public let errorOutput: String
        public var succeeded: Bool { exitCode == 0 }
    }

    /// Runs SQL with psql as the superuser (managed mode; over the Unix socket) or the external
    /// user, and returns its output: unaligned, tuples only (`-XAtq`), fields separated by `|`,
    /// trailing newline removed. Stops at the first error and throws it (with psql's stderr).
    ///
    /// ```swift
    /// try await pg.psql("select pg_terminate_backend(\(pid))")
    /// ```
    @discardableResult
    public func psql(_ sql: String, database: String? = nil) async throws -> String {
        let result = try await runPsql(sql, database: database)
        guard result.succeeded else {
            throw TemporaryPostgresError("psql failed (exit \(result.exitCode)): \(result.errorOutput)")
        }
        return result.output
    }

    /// Runs SQL with psql as any user and returns exit code, stdout and stderr without
    /// throwing on SQL or authentication errors. `user` nil means the superuser (external:
    /// the given user); `password` is passed in PGPASSWORD; `useSocket` false connects over
    /// TCP to ``host``.
    public func runPsql(
        _ sql: String,
        user: String? = nil,
        password: String? = nil,
        database: String? = nil,
        useSocket: Bool? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> PsqlResult {
        guard let binDirectory else {
            throw TemporaryPostgresError(
                "psql not found; install PostgreSQL client tools (apt-get install postgresql-client) or set TUSK_PG_BINDIR")
        }
        var env = isExternal ? ProcessInfo.processInfo.environment : Self.cleanEnvironment()
        env["PGCLIENTENCODING"] = "UTF8"
        env["PGCONNECT_TIMEOUT"] = "10"
        env["PGAPPNAME"] = "tusk-test-psql"
        let user = user ?? psqlUser
        let conninfo: String
        if isExternal, let externalURL, user == defaultUser, password == nil, database == nil, useSocket == nil {
            conninfo = externalURL  // as given (keeps sslmode and friends)
        } else {
            let socket = (useSocket ?? !isExternal) ? socketDirectory : nil
            // The password goes in PGPASSWORD, not on the command line.
            conninfo = [
                "host=" + Self.quoteKeywordValue(socket ?? host), "port=\(port)",
                "user=" + Self.quoteKeywordValue(user), "dbname=" + Self.quoteKeywordValue(database ?? defaultDatabase),
            ].joined(separator: " ")
            if let password = password ?? (user == defaultUser ? defaultPassword : nil) {
                env["PGPASSWORD"] = password
            } else {
                env.removeValue(forKey: "PGPASSWORD")
            }
        }
        let result = try await Self.runProcess(
            executable: binDirectory + "/psql",
            arguments: ["-X", "-A", "-t", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", "-"],
            environment: env,
            currentDirectory: temporaryDirectory ?? NSTemporaryDirectory(),
            input: Data(sql.utf8),
            timeout: timeout
        )
        if result.timedOut {
            throw TemporaryPostgresError("psql timed out after \(timeout): \(result.stderr)")
        }
        var out = result.stdout
        while out.hasSuffix("\n") { out.removeLast() }
        return PsqlResult(exitCode: result.status, output: out, errorOutput: result.stderr)
    }

    // MARK: Helpers

    static func percentEncode(_ s: String, keepSlash: Bool = false) -> String {
        var allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        if keepSlash { allowed.insert("/") }
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    static func quoteKeywordValue(_ s: String) -> String {
        if !s.isEmpty && !s.contains(where: { $0 == " " || $0 == "'" || $0 == "\\" || $0 == "\t" || $0 == "\n" }) {
            return s
        }
        var out = "'"
        for c in s {
            if c == "'" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out + "'"
    }
}

/// Why a TemporaryPostgres could not start (or a helper failed).
public struct TemporaryPostgresError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "TemporaryPostgres: " + message }
}
