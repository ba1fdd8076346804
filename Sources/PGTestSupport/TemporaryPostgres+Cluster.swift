// Starting, stopping and guarding a TemporaryPostgres cluster; external mode.

import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension TemporaryPostgres {

    // MARK: Stop / restart

    /// Stops the server (fast shutdown, then SIGQUIT/SIGKILL if it does not go) and removes the
    /// temporary directory. Idempotent; does nothing in external mode.
    public func stop() async {
        guard !isExternal, let dataDirectory, let temporaryDirectory, let binDirectory else { return }
        _ = try? await serialized { [self] in
            guard state.withLock({ $0.running }) else { return }
            _ = try? await Self.runProcess(
                executable: binDirectory + "/pg_ctl",
                arguments: ["stop", "-D", dataDirectory, "-m", "fast", "-w", "-t", "20", "-s"],
                environment: Self.cleanEnvironment(), currentDirectory: temporaryDirectory,
                timeout: .seconds(30), runAs: runAs)
            let pid = state.withLock { $0.postmasterPID }
            Self.killAndWait(pid: pid ?? Self.readPostmasterPID(dataDirectory: dataDirectory))
            state.withLock {
                $0.running = false
                $0.postmasterPID = nil
            }
            Self.unregister(temporaryDirectory)
            try? FileManager.default.removeItem(atPath: temporaryDirectory)
        }
    }

    /// Restarts the server (fast shutdown, same port, socket and data). Existing connections
    /// are closed by the server. Throws in external mode or once stopped.
    public func restart() async throws {
        guard !isExternal, let dataDirectory, let temporaryDirectory, let logFile, let binDirectory else {
            throw TemporaryPostgresError("restart() is not available for an external server")
        }
        let timeout = startTimeout
        try await serialized { [self] in
            guard state.withLock({ $0.running }) else {
                throw TemporaryPostgresError("restart(): the server was stopped")
            }
            let secs = Int(timeout.components.seconds) + 1
            let result = try await Self.runProcess(
                executable: binDirectory + "/pg_ctl",
                arguments: ["restart", "-D", dataDirectory, "-l", logFile, "-m", "fast", "-w", "-t", "\(secs)", "-s"],
                environment: Self.cleanEnvironment(), currentDirectory: temporaryDirectory,
                timeout: timeout + .seconds(30), runAs: runAs)
            let pid = Self.readPostmasterPID(dataDirectory: dataDirectory)
            state.withLock { $0.postmasterPID = pid }
            guard result.status == 0, !result.timedOut else {
                throw TemporaryPostgresError(
                    "pg_ctl restart failed (exit \(result.status)): \(result.stderr)\(result.stdout)\n--- \(logFile) (tail) ---\n"
                        + Self.tail(of: logFile))
            }
        }
    }

    /// Runs lifecycle operations one at a time, in call order.
    func serialized<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let task: Task<T, any Error> = lifecycle.withLock { tail in
            let previous = tail
            let task = Task<T, any Error> {
                await previous?.value
                return try await operation()
            }
            tail = Task { _ = await task.result }
            return task
        }
        return try await task.value
    }

    /// SIGQUIT (immediate shutdown), wait up to 10 s, then SIGKILL.
    static func killAndWait(pid: Int?) {
        guard let pid, isAlive(pid) else { return }
        kill(pid_t(pid), SIGQUIT)
        for _ in 0..<500 where isAlive(pid) {
            usleep(20_000)
        }
        if isAlive(pid) {
            kill(pid_t(pid), SIGKILL)
        }
    }

    // MARK: Process-exit cleanup

    private static let registry = Mutex<[String: String]>([:])  // temporary dir -> data dir
    private static let atExitInstalled = Mutex(false)

    static func register(temporaryDirectory: String, dataDirectory: String) {
        registry.withLock { $0[temporaryDirectory] = dataDirectory }
        let install = atExitInstalled.withLock { installed in
            defer { installed = true }
            return !installed
        }
        if install {
            atexit { TemporaryPostgres.cleanUpAtExit() }
        }
    }

    static func unregister(_ temporaryDirectory: String) {
        _ = registry.withLock { $0.removeValue(forKey: temporaryDirectory) }
    }

    /// Runs at exit: immediate shutdown of every cluster still running, directories removed.
    static func cleanUpAtExit() {
        let all = registry.withLock { all in
            defer { all = [:] }
            return all
        }
        for (temporaryDirectory, dataDirectory) in all {
            killAndWait(pid: readPostmasterPID(dataDirectory: dataDirectory))
            try? FileManager.default.removeItem(atPath: temporaryDirectory)
        }
    }

    /// The watchdog: a shell loop, in its own session and deaf to SIGINT/SIGHUP/SIGTERM, that
    /// polls the test process every 0.5 s. When the test process is gone and the temporary
    /// directory still exists, it shuts the postmaster down (SIGQUIT, SIGKILL after 10 s) and
    /// removes the directory. When stop() removed the directory, it just exits.
    static let watchdogScript = """
        P="$1"; T="$2"; D="$T/data"
        trap '' INT HUP TERM QUIT PIPE
        while kill -0 "$P" 2>/dev/null && [ -d "$T" ]; do sleep 0.5; done
        [ -d "$T" ] || exit 0
        if [ -f "$D/postmaster.pid" ]; then
          pm=$(head -n 1 "$D/postmaster.pid")
          if [ -n "$pm" ] && kill -QUIT "$pm" 2>/dev/null; then
            i=0
            while [ $i -lt 100 ] && kill -0 "$pm" 2>/dev/null; do
              if [ -r "/proc/$pm/stat" ] && sed 's/.*) //' "/proc/$pm/stat" | grep -q '^[ZX]'; then break; fi
              sleep 0.1; i=$((i + 1))
            done
            kill -KILL "$pm" 2>/dev/null
          fi
        fi
        rm -rf "$T"
        """

    static func startWatchdog(temporaryDirectory: String) throws {
        let parent = String(getpid())
        let sh = "/bin/sh"
        let args = ["-c", watchdogScript, "tusk-pg-watchdog", parent, temporaryDirectory]
        let setsid = ["/usr/bin/setsid", "/bin/setsid"].first(where: isExecutable)
        var env = cleanEnvironment()
        env["PATH"] = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        if let setsid {
            try spawnDetached(executable: setsid, arguments: [sh] + args, environment: env)
        } else {
            try spawnDetached(executable: sh, arguments: args, environment: env)
        }
    }

    // MARK: Start

    /// A cluster's temporary directory: data/, sock/, postgres.log inside a short path (socket paths are
    /// limited to ~100 bytes), registered for clean-up at exit and watched by the watchdog.
    struct ClusterDirectory {
        let path: String
        var data: String { path + "/data" }
        var socket: String { path + "/sock" }
        var log: String { path + "/postgres.log" }
    }

    static func makeClusterDirectory(prefix: String, runAs: RunAs?) throws -> ClusterDirectory {
        let base = ProcessInfo.processInfo.environment["TUSK_PG_TMPDIR"] ?? "/tmp"
        var template = Array((base + "/" + prefix + "-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TemporaryPostgresError("mkdtemp in \(base) failed: errno \(errno)")
        }
        let dir = ClusterDirectory(path: String(cString: made))
        register(temporaryDirectory: dir.path, dataDirectory: dir.data)
        do {
            try startWatchdog(temporaryDirectory: dir.path)
            guard mkdir(dir.socket, 0o700) == 0 else {
                throw TemporaryPostgresError("mkdir \(dir.socket) failed: errno \(errno)")
            }
            chmod(dir.path, 0o700)
            if let runAs {
                for path in [dir.path, dir.socket] where chown(path, runAs.uid, runAs.gid) != 0 {
                    throw TemporaryPostgresError("chown \(path) to \(runAs.userName) failed: errno \(errno)")
                }
            }
        } catch {
            discardClusterDirectory(dir)
            throw error
        }
        return dir
    }

    /// Undoes a start that failed: kills a server that may have started, removes the directory.
    static func discardClusterDirectory(_ dir: ClusterDirectory) {
        killAndWait(pid: readPostmasterPID(dataDirectory: dir.data))
        unregister(dir.path)
        try? FileManager.default.removeItem(atPath: dir.path)
    }

    static func startManaged(options: Options) async throws -> TemporaryPostgres {
        ignoreSIGPIPE()
        let binDirectory = try await findBinaries(explicit: options.binDirectory)
        let fixtures = options.applyFixtures ? try fixturesDirectory(explicit: options.fixturesDirectory) : nil
        let runAs = try runAsPostgresIfRoot()

        let dir = try makeClusterDirectory(prefix: "tusk-pg", runAs: runAs)
        let (tmp, data, sock, log) = (dir.path, dir.data, dir.socket, dir.log)
        var started = false
        defer { if !started { discardClusterDirectory(dir) } }

        let env = cleanEnvironment()
        let initdb = try await runProcess(
            executable: binDirectory + "/initdb",
            arguments: ["-D", data, "--auth=trust", "-U", superuser, "--encoding=UTF8", "--locale=C", "--no-sync"],
            environment: env, currentDirectory: tmp, timeout: .seconds(180), runAs: runAs)
        guard initdb.status == 0, !initdb.timedOut else {
            throw TemporaryPostgresError("initdb failed (exit \(initdb.status)):\n\(initdb.stdout)\(initdb.stderr)")
        }

        // Configuration.
        let hba: String
        if let fixtures {
            hba = try String(contentsOfFile: fixtures + "/pg_hba.conf", encoding: .utf8)
        } else {
            hba = """
                local all all trust
                host all all 127.0.0.1/32 trust
                local replication all trust
                host replication all 127.0.0.1/32 trust

                """
        }
        try writeOwned(hba, to: data + "/pg_hba.conf", runAs: runAs)
        let conf = try String(contentsOfFile: data + "/postgresql.conf", encoding: .utf8)
        try writeOwned(conf + "\n# Added by TemporaryPostgres\ninclude 'tusk.conf'\n", to: data + "/postgresql.conf", runAs: runAs)

        // TLS: the key must be owned by the server's user with mode 0600, so copy the files into the data directory.
        var settings = options.settings
        var tlsEnabled = false
        if let fixtures, let name = options.tlsCertificate {
            let dir = fixtures + "/tls"
            for (source, target) in [("\(name).crt", "server.crt"), ("\(name).key", "server.key"), ("ca.crt", "root.crt")] {
                guard let text = try? String(contentsOfFile: dir + "/" + source, encoding: .utf8) else {
                    throw TemporaryPostgresError("cannot read \(dir)/\(source) (run Scripts/generate-test-certs.sh)")
                }
                try writeOwned(text, to: data + "/" + target, runAs: runAs)
                chmod(data + "/" + target, 0o600)
            }
            settings["ssl"] = settings["ssl"] ?? "on"
            settings["ssl_cert_file"] = settings["ssl_cert_file"] ?? "'server.crt'"
            settings["ssl_key_file"] = settings["ssl_key_file"] ?? "'server.key'"
            settings["ssl_ca_file"] = settings["ssl_ca_file"] ?? "'root.crt'"
            tlsEnabled = settings["ssl"] == "on"
        }

        // Start, retrying with another port when the one we picked got taken meanwhile.
        let timeoutSeconds = max(1, Int(options.startTimeout.components.seconds))
        var port = 0
        var attempt = 0
        while true {
            attempt += 1
            port = try options.port ?? freePort()
            try writeOwned(
                configuration(port: port, socketDirectory: sock, extra: settings),
                to: data + "/tusk.conf", runAs: runAs)
            let result = try await runProcess(
                executable: binDirectory + "/pg_ctl",
                arguments: ["start", "-D", data, "-l", log, "-w", "-t", "\(timeoutSeconds)", "-s"],
                environment: env, currentDirectory: tmp,
                timeout: options.startTimeout + .seconds(15), runAs: runAs)
            if result.status == 0 && !result.timedOut {
                break
            }
            let logTail = tail(of: log)
            killAndWait(pid: readPostmasterPID(dataDirectory: data))
            let portTaken = logTail.contains("could not bind") || logTail.contains("Address already in use")
                || logTail.contains("could not create any TCP/IP sockets")
            if portTaken && options.port == nil && attempt < 5 {
                continue
            }
            let what = result.timedOut ? "did not start within \(options.startTimeout)" : "failed to start (pg_ctl exit \(result.status))"
            throw TemporaryPostgresError(
                "postgres \(what) on 127.0.0.1:\(port): \(result.stderr)\(result.stdout)\n--- \(log) (tail) ---\n\(logTail)")
        }

        let instance = TemporaryPostgres(
            isExternal: false, hasAuthRoles: fixtures != nil, externalURL: nil,
            host: "127.0.0.1", port: port, socketDirectory: sock, binDirectory: binDirectory,
            dataDirectory: data, temporaryDirectory: tmp, logFile: log,
            serverVersion: "", serverVersionNumber: 0,
            defaultUser: fixtures != nil ? Role.trust.name : superuser,
            defaultDatabase: fixtures != nil ? databaseName : "postgres",
            defaultPassword: nil, runAs: runAs, psqlUser: superuser,
            postmasterPID: readPostmasterPID(dataDirectory: data),
            startTimeout: options.startTimeout)

        if let fixtures {
            let setup = try await instance.runPsql(
                "\\i " + quotePsqlPath(fixtures + "/setup.sql") + "\n", database: "postgres", timeout: .seconds(120))
            guard setup.succeeded else {
                throw TemporaryPostgresError(
                    "applying \(fixtures)/setup.sql failed (exit \(setup.exitCode)):\n\(setup.errorOutput)")
            }
        }
        let version = try await instance.psql(
            "select current_setting('server_version') || '|' || current_setting('server_version_num')",
            database: "postgres")
        let parts = version.split(separator: "|", maxSplits: 1).map(String.init)
        started = true
        return TemporaryPostgres(
            isExternal: false, hasAuthRoles: instance.hasAuthRoles, externalURL: nil,
            host: instance.host, port: port, socketDirectory: sock, binDirectory: binDirectory,
            dataDirectory: data, temporaryDirectory: tmp, logFile: log,
            serverVersion: parts.first ?? "", serverVersionNumber: parts.count > 1 ? Int(parts[1]) ?? 0 : 0,
            defaultUser: instance.defaultUser, defaultDatabase: instance.defaultDatabase,
            defaultPassword: nil, runAs: runAs, psqlUser: superuser,
            postmasterPID: instance.postmasterPID, startTimeout: options.startTimeout, isTLSEnabled: tlsEnabled)
    }

    static func configuration(port: Int, socketDirectory: String, extra: [String: String]) -> String {
        var lines = [
            "# Written by TemporaryPostgres (Sources/PGTestSupport); included from postgresql.conf.",
            "listen_addresses = '127.0.0.1'",
            "port = \(port)",
            "unix_socket_directories = '\(socketDirectory)'",
            "max_connections = 200",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "wal_level = replica",
            "max_wal_senders = 4",
            "password_encryption = 'scram-sha-256'",
            "logging_collector = off",
            "log_destination = 'stderr'",
            "log_min_messages = warning",
            "lc_messages = 'C'",
            "timezone = 'UTC'",
            "log_timezone = 'UTC'",
        ]
        for (key, value) in extra.sorted(by: { $0.key < $1.key }) {
            lines.append("\(key) = \(value)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func quotePsqlPath(_ path: String) -> String {
        "'" + path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    static func writeOwned(_ text: String, to path: String, runAs: RunAs?) throws {
        do {
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        } catch {
            throw TemporaryPostgresError("cannot write \(path): \(error)")
        }
        if let runAs {
            chown(path, runAs.uid, runAs.gid)
        }
        chmod(path, 0o600)
    }

    /// Root may not run the server: find the `postgres` OS user and runuser (or setpriv).
    static func runAsPostgresIfRoot() throws -> RunAs? {
        guard geteuid() == 0 else { return nil }
        let name = "postgres"
        guard let pw = getpwnam(name) else {
            throw TemporaryPostgresError(
                "running as root, but there is no `postgres` OS user to run the server as; "
                    + "`apt-get install postgresql` creates it (or `useradd --system postgres`), or run the tests as a normal user")
        }
        let uid = pw.pointee.pw_uid
        let gid = pw.pointee.pw_gid
        if let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"].first(where: isExecutable) {
            return RunAs(uid: uid, gid: gid, userName: name, prefix: [runuser, "-u", name, "--"])
        }
        if let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first(where: isExecutable) {
            return RunAs(uid: uid, gid: gid, userName: name,
                         prefix: [setpriv, "--reuid=\(uid)", "--regid=\(gid)", "--init-groups"])
        }
        throw TemporaryPostgresError("running as root needs runuser or setpriv (util-linux) to run the server as `postgres`")
    }

    // MARK: Discovery

    static let requiredTools = ["postgres", "initdb", "pg_ctl", "psql"]

    static func isServerBinDirectory(_ dir: String) -> Bool {
        requiredTools.allSatisfy { isExecutable(dir + "/" + $0) }
    }

    /// Finds a directory holding postgres, initdb, pg_ctl and psql: `explicit`, TUSK_PG_BINDIR,
    /// PATH (following symlinks of postgres/initdb), `pg_config --bindir`, the usual folders.
    static func findBinaries(explicit: String?) async throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let dir = explicit ?? env["TUSK_PG_BINDIR"].flatMap({ $0.isEmpty ? nil : $0 }) {
            guard isServerBinDirectory(dir) else {
                throw TemporaryPostgresError("\(dir) (binDirectory/TUSK_PG_BINDIR) lacks one of \(requiredTools.joined(separator: ", "))")
            }
            return dir
        }
        var tried: [String] = []
        func check(_ dir: String) -> String? {
            if tried.contains(dir) { return nil }
            tried.append(dir)
            return isServerBinDirectory(dir) ? dir : nil
        }
        let path = (env["PATH"] ?? "").split(separator: ":").map(String.init)
        for dir in path {
            for tool in ["postgres", "initdb"] where isExecutable(dir + "/" + tool) {
                let real = (realPath(dir + "/" + tool) as NSString).deletingLastPathComponent
                if let found = check(real) ?? check(dir) { return found }
            }
        }
        for dir in path where isExecutable(dir + "/pg_config") {
            if let out = try? await runProcess(executable: dir + "/pg_config", arguments: ["--bindir"], timeout: .seconds(10)),
               out.status == 0 {
                let bindir = out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                if !bindir.isEmpty, let found = check(bindir) { return found }
            }
        }
        var fixed: [String] = []
        for v in (10...18).reversed() { fixed.append("/usr/lib/postgresql/\(v)/bin") }
        fixed += ["/usr/local/pgsql/bin"]
        for v in (13...18).reversed() { fixed.append("/usr/pgsql-\(v)/bin") }
        fixed += ["/opt/homebrew/bin", "/usr/local/bin"]
        for v in (13...18).reversed() {
            fixed.append("/opt/homebrew/opt/postgresql@\(v)/bin")
            fixed.append("/usr/local/opt/postgresql@\(v)/bin")
        }
        fixed += ["/Applications/Postgres.app/Contents/Versions/latest/bin", "/usr/bin"]
        for dir in fixed {
            if let found = check(dir) { return found }
        }
        throw TemporaryPostgresError(
            """
            cannot find the PostgreSQL server programs (\(requiredTools.joined(separator: ", "))).
            Install them: `sudo apt-get install postgresql` (Debian/Ubuntu; .ci/run does it), \
            `brew install postgresql@17` (macOS), or set TUSK_PG_BINDIR to their directory, \
            or set DATABASE_URL/PGHOST to use an existing server.
            Looked in: \(tried.joined(separator: ", "))
            """)
    }

    /// The directory with pg_hba.conf and setup.sql: `explicit`, TUSK_FIXTURES_DIR, the
    /// package's Fixtures/ (found from this source file's path), ./Fixtures.
    static func fixturesDirectory(explicit: String?) throws -> String {
        var candidates: [String] = []
        if let explicit { candidates.append(explicit) }
        if let env = ProcessInfo.processInfo.environment["TUSK_FIXTURES_DIR"], !env.isEmpty { candidates.append(env) }
        var source = URL(fileURLWithPath: realPath(#filePath))
        for _ in 0..<3 { source.deleteLastPathComponent() }
        candidates.append(source.appendingPathComponent("Fixtures").path)
        candidates.append(FileManager.default.currentDirectoryPath + "/Fixtures")
        for dir in candidates
        where FileManager.default.fileExists(atPath: dir + "/pg_hba.conf")
            && FileManager.default.fileExists(atPath: dir + "/setup.sql") {
            return dir
        }
        throw TemporaryPostgresError(
            "cannot find Fixtures/pg_hba.conf and Fixtures/setup.sql (looked in \(candidates.joined(separator: ", "))); set TUSK_FIXTURES_DIR")
    }

    // MARK: External mode

    /// An instance describing the server named by DATABASE_URL or PGHOST, or nil if neither is set.
    static func external(environment env: [String: String]) async throws -> TemporaryPostgres? {
        let databaseURL = env["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        let pghost = env["PGHOST"].flatMap { $0.isEmpty ? nil : $0 }
        guard databaseURL != nil || pghost != nil else { return nil }
        ignoreSIGPIPE()

        var host = pghost ?? "localhost"
        var port = env["PGPORT"].flatMap { Int($0) } ?? 5432
        var user = env["PGUSER"].flatMap { $0.isEmpty ? nil : $0 } ?? superuser
        var password = env["PGPASSWORD"]
        var database = env["PGDATABASE"].flatMap { $0.isEmpty ? nil : $0 }
        if let databaseURL {
            guard let c = URLComponents(string: databaseURL), let scheme = c.scheme,
                  scheme == "postgres" || scheme == "postgresql" else {
                throw TemporaryPostgresError("DATABASE_URL must be a postgres:// or postgresql:// URL")
            }
            if let h = c.host, !h.isEmpty { host = h.removingPercentEncoding ?? h }
            if let h = c.queryItems?.first(where: { $0.name == "host" })?.value, !h.isEmpty { host = h }
            if let p = c.port { port = p }
            if let p = c.queryItems?.first(where: { $0.name == "port" })?.value.flatMap({ Int($0) }) { port = p }
            if let u = c.user, !u.isEmpty { user = u }
            if let p = c.password { password = p }
            let path = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
            if !path.isEmpty { database = path }
        }
        let db = database ?? user
        let socket = host.hasPrefix("/") ? host : nil
        let externalURL = databaseURL ?? makeURL(host: host, port: port, user: user, password: password, database: db)

        var bin = try? await findBinaries(explicit: nil)
        if bin == nil {
            let path = (env["PATH"] ?? "").split(separator: ":").map(String.init)
            bin = path.first { isExecutable($0 + "/psql") }
        }
        let probe = TemporaryPostgres(
            isExternal: true, hasAuthRoles: false, externalURL: externalURL, host: host, port: port,
            socketDirectory: socket, binDirectory: bin, dataDirectory: nil, temporaryDirectory: nil,
            logFile: nil, serverVersion: "", serverVersionNumber: 0, defaultUser: user,
            defaultDatabase: db, defaultPassword: password, runAs: nil, psqlUser: user,
            postmasterPID: nil, startTimeout: .seconds(30))
        var version = ["", "0"]
        var hasRoles = false
        var tlsOn = false
        if bin != nil {
            tlsOn = (try? await probe.psql("show ssl")) == "on"
            if let v = try? await probe.psql(
                "select current_setting('server_version') || '|' || current_setting('server_version_num')") {
                version = v.split(separator: "|", maxSplits: 1).map(String.init)
            }
            let names = roles.map { "'\($0.name)'" }.joined(separator: ",")
            if let n = try? await probe.psql("select count(*) from pg_roles where rolname in (\(names))") {
                hasRoles = Int(n) == roles.count
            }
        }
        if let flag = env["TUSK_PG_AUTH_ROLES"], !flag.isEmpty {
            hasRoles = ["1", "true", "yes", "on"].contains(flag.lowercased())
        }
        return TemporaryPostgres(
            isExternal: true, hasAuthRoles: hasRoles, externalURL: externalURL, host: host, port: port,
            socketDirectory: socket, binDirectory: bin, dataDirectory: nil, temporaryDirectory: nil,
            logFile: nil, serverVersion: version.first ?? "", serverVersionNumber: version.count > 1 ? Int(version[1]) ?? 0 : 0,
            defaultUser: user, defaultDatabase: db, defaultPassword: password, runAs: nil, psqlUser: user,
            postmasterPID: nil, startTimeout: .seconds(30), isTLSEnabled: tlsOn)
    }
}
