// TemporaryPgBouncer: a throw-away PgBouncer in front of a TemporaryPostgres, for tests and benchmarks that
// run the driver behind a connection pooler.

import Foundation

/// A PgBouncer (Debian's `pgbouncer` package) started in front of a ``TemporaryPostgres``.
///
/// It listens on a free port of 127.0.0.1, forwards every database to the server, authenticates its clients
/// with the method given (SCRAM by default, against the passwords of ``TemporaryPostgres/roles``) and logs in
/// to the server as the same role. The pool mode and size are options; the default is what most services
/// run behind: `pool_mode = transaction` with fewer server connections than clients will open, so server
/// sessions are shared and prepared statements are not where a client left them. It is stopped by ``stop()``
/// and, like the server, by the watchdog when the test process dies.
///
/// ```swift
/// let pg = try await TemporaryPostgres.shared()
/// let bouncer = try await TemporaryPgBouncer.start(in: pg, options: .init(poolMode: "transaction", defaultPoolSize: 4))
/// defer { bouncer.stop() }
/// let url = bouncer.url(user: "tusk_scram", password: "tusk_scram_pw")
/// ```
public final class TemporaryPgBouncer: Sendable {
    public struct Options: Sendable {
        /// `pool_mode`: `session`, `transaction` or `statement`.
        public var poolMode: String
        /// `default_pool_size`: server connections per user and database.
        public var defaultPoolSize: Int
        /// `auth_type` for clients: `scram-sha-256`, `md5`, `plain` or `trust`.
        public var authType: String
        /// More `[pgbouncer]` settings, written as `name = value`.
        public var settings: [String: String]

        public init(poolMode: String = "transaction", defaultPoolSize: Int = 4, authType: String = "scram-sha-256",
                    settings: [String: String] = [:]) {
            self.poolMode = poolMode
            self.defaultPoolSize = defaultPoolSize
            self.authType = authType
            self.settings = settings
        }
    }

    /// 127.0.0.1.
    public let host: String
    /// The port it listens on.
    public let port: Int
    /// Its version line (`PgBouncer 1.18.0`).
    public let version: String
    /// The server it forwards to.
    public let server: TemporaryPostgres
    let directory: String
    let pidFile: String

    private init(host: String, port: Int, version: String, server: TemporaryPostgres, directory: String, pidFile: String) {
        self.host = host
        self.port = port
        self.version = version
        self.server = server
        self.directory = directory
        self.pidFile = pidFile
    }

    /// The `pgbouncer` binary: `TUSK_PGBOUNCER`, PATH, or /usr/sbin; nil when it is not installed.
    public static func binary() -> String? {
        let env = ProcessInfo.processInfo.environment
        if let explicit = env["TUSK_PGBOUNCER"], TemporaryPostgres.isExecutable(explicit) { return explicit }
        let path = (env["PATH"] ?? "").split(separator: ":").map { String($0) + "/pgbouncer" }
        return (path + ["/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer", "/usr/bin/pgbouncer"])
            .first(where: TemporaryPostgres.isExecutable)
    }

    /// Why PgBouncer cannot be started here (nil when it can): it is not installed, or the server is external.
    public static func unavailableReason(for server: TemporaryPostgres) -> String? {
        if binary() == nil {
            return "pgbouncer is not installed (Scripts/setup-debian.sh installs Debian's `pgbouncer` package)"
        }
        if server.isExternal && !server.hasAuthRoles {
            return "the external server has no tusk_* roles (Fixtures/setup.sql) for PgBouncer to log in as"
        }
        return nil
    }

    /// A URL for a role through the pooler (default: `tusk_scram`, its password, and the `tusk` database).
    public func url(user: String = TemporaryPostgres.Role.scram.name, password: String? = TemporaryPostgres.Role.scram.password,
                    database: String = TemporaryPostgres.databaseName) -> String {
        TemporaryPostgres.makeURL(host: host, port: port, user: user, password: password, database: database)
    }

    /// Starts PgBouncer in front of `server`.
    public static func start(in server: TemporaryPostgres, options: Options = Options()) async throws -> TemporaryPgBouncer {
        guard let binary = binary() else {
            throw TemporaryPostgresError(unavailableReason(for: server) ?? "pgbouncer is not installed")
        }
        TemporaryPostgres.ignoreSIGPIPE()
        let runAs = try TemporaryPostgres.runAsPostgresIfRoot()
        let dir = try TemporaryPostgres.makeClusterDirectory(prefix: "tusk-pgb", runAs: runAs)
        var started = false
        defer { if !started { TemporaryPostgres.discardClusterDirectory(dir) } }
        guard mkdir(dir.data, 0o700) == 0 else { throw TemporaryPostgresError("mkdir \(dir.data) failed: errno \(errno)") }
        if let runAs { chown(dir.data, runAs.uid, runAs.gid) }

        // Plain passwords in the auth file: PgBouncer answers SCRAM/MD5 from them and logs in to the server with them.
        var users = TemporaryPostgres.roles.compactMap { role in
            role.password.map { "\"\(role.name)\" \"\($0.replacingOccurrences(of: "\"", with: "\"\""))\"" }
        }
        users.append("\"\(TemporaryPostgres.Role.trust.name)\" \"\"")
        try TemporaryPostgres.writeOwned(users.joined(separator: "\n") + "\n", to: dir.path + "/userlist.txt", runAs: runAs)

        let pidFile = dir.data + "/postmaster.pid"  // where the watchdog looks for a process to end
        var port = try TemporaryPostgres.freePort()
        var lastError = ""
        for _ in 0..<3 {
            var settings: [String: String] = [
                "listen_addr": "127.0.0.1",
                "listen_port": String(port),
                "unix_socket_dir": "",
                "auth_type": options.authType,
                "auth_file": dir.path + "/userlist.txt",
                "pool_mode": options.poolMode,
                "default_pool_size": String(options.defaultPoolSize),
                "max_client_conn": "500",
                "logfile": dir.path + "/pgbouncer.log",
                "pidfile": pidFile,
                "server_reset_query": "DISCARD ALL",
                "ignore_startup_parameters": "extra_float_digits,options",
                "admin_users": "postgres",
            ]
            for (k, v) in options.settings { settings[k] = v }
            let ini = """
                [databases]
                * = host=\(server.host) port=\(server.port)

                [pgbouncer]
                \(settings.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: "\n"))

                """
            try TemporaryPostgres.writeOwned(ini, to: dir.path + "/pgbouncer.ini", runAs: runAs)
            let result = try await TemporaryPostgres.runProcess(
                executable: binary, arguments: ["-d", dir.path + "/pgbouncer.ini"],
                environment: TemporaryPostgres.cleanEnvironment(), currentDirectory: dir.path, timeout: .seconds(30), runAs: runAs)
            if result.status == 0, try await waitForPort(port, pidFile: pidFile, timeout: .seconds(10)) {
                let versionOutput = try? await TemporaryPostgres.runProcess(executable: binary, arguments: ["--version"], timeout: .seconds(10))
                let version = versionOutput?.stdout.split(separator: "\n").first.map(String.init) ?? "PgBouncer"
                started = true
                return TemporaryPgBouncer(host: "127.0.0.1", port: port, version: version, server: server,
                                          directory: dir.path, pidFile: pidFile)
            }
            lastError = result.stderr + TemporaryPostgres.tail(of: dir.path + "/pgbouncer.log")
            TemporaryPostgres.killAndWait(pid: readPID(pidFile))
            port = try TemporaryPostgres.freePort()
        }
        throw TemporaryPostgresError("pgbouncer did not start: \(lastError)")
    }

    /// Stops PgBouncer and removes its directory. Safe to call more than once.
    public func stop() {
        TemporaryPostgres.killAndWait(pid: Self.readPID(pidFile))
        TemporaryPostgres.unregister(directory)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// PgBouncer's log so far (for a failing test's message).
    public func log() -> String { TemporaryPostgres.tail(of: directory + "/pgbouncer.log", lines: 50) }

    private static func waitForPort(_ port: Int, pidFile: String, timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if canConnect(host: "127.0.0.1", port: port) { return true }
            if let pid = readPID(pidFile), !TemporaryPostgres.isAlive(pid) { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// The first line of a pid file.
    static func readPID(_ path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let first = text.split(separator: "\n").first else { return nil }
        return Int(first.trimmingCharacters(in: .whitespaces))
    }

    /// Whether something accepts a TCP connection on 127.0.0.1:port now.
    static func canConnect(host: String, port: Int) -> Bool {
        #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(host)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
