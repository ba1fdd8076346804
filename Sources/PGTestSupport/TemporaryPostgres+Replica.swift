// A streaming replica of a managed TemporaryPostgres: pg_basebackup of the primary, started as a hot standby.

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension TemporaryPostgres {
    /// Starts a hot-standby streaming replica of this (managed) server on its own port and socket: a
    /// `pg_basebackup -R` of the primary, so it has the same roles and databases and replays the primary's WAL.
    /// Stop it with ``stop()`` like any cluster.
    ///
    /// ```swift
    /// let primary = try await TemporaryPostgres.start()
    /// let replica = try await primary.startReplica()
    /// try await replica.psql("select pg_is_in_recovery()")   // "t"
    /// ```
    public func startReplica(settings: [String: String] = [:]) async throws -> TemporaryPostgres {
        guard !isExternal, let binDirectory else {
            throw TemporaryPostgresError("startReplica() needs a managed server (not DATABASE_URL/PGHOST)")
        }
        let base = ProcessInfo.processInfo.environment["TUSK_PG_TMPDIR"] ?? "/tmp"
        var template = Array((base + "/tusk-rep-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TemporaryPostgresError("mkdtemp in \(base) failed: errno \(errno)")
        }
        let tmp = String(cString: made)
        let data = tmp + "/data"
        let sock = tmp + "/sock"
        let log = tmp + "/postgres.log"
        var started = false
        Self.register(temporaryDirectory: tmp, dataDirectory: data)
        defer {
            if !started {
                Self.killAndWait(pid: Self.readPostmasterPID(dataDirectory: data))
                Self.unregister(tmp)
                try? FileManager.default.removeItem(atPath: tmp)
            }
        }
        try Self.startWatchdog(temporaryDirectory: tmp)
        guard mkdir(sock, 0o700) == 0 else { throw TemporaryPostgresError("mkdir \(sock) failed: errno \(errno)") }
        chmod(tmp, 0o700)
        if let runAs {
            for path in [tmp, sock] where chown(path, runAs.uid, runAs.gid) != 0 {
                throw TemporaryPostgresError("chown \(path) to \(runAs.userName) failed: errno \(errno)")
            }
        }
        let env = Self.cleanEnvironment()
        let backup = try await Self.runProcess(
            executable: binDirectory + "/pg_basebackup",
            arguments: ["-h", "127.0.0.1", "-p", "\(port)", "-U", Self.superuser, "-D", data, "-R", "-X", "stream", "--no-sync", "-c", "fast"],
            environment: env, currentDirectory: tmp, timeout: .seconds(180), runAs: runAs)
        guard backup.status == 0, !backup.timedOut else {
            throw TemporaryPostgresError("pg_basebackup failed (exit \(backup.status)):\n\(backup.stdout)\(backup.stderr)")
        }
        // A hot standby needs these at least as high as on the primary.
        var extra: [String: String] = [:]
        for name in ["max_connections", "max_wal_senders", "max_worker_processes", "max_prepared_transactions", "max_locks_per_transaction"] {
            if let value = try? await psql("show \(name)", database: "postgres"), !value.isEmpty { extra[name] = value }
        }
        extra.merge(settings) { $1 }
        extra["hot_standby"] = extra["hot_standby"] ?? "on"
        extra["hot_standby_feedback"] = extra["hot_standby_feedback"] ?? "on"
        let port = try Self.freePort()
        try Self.writeOwned(Self.configuration(port: port, socketDirectory: sock, extra: extra), to: data + "/tusk.conf", runAs: runAs)
        let seconds = max(1, Int(startTimeout.components.seconds))
        let result = try await Self.runProcess(
            executable: binDirectory + "/pg_ctl",
            arguments: ["start", "-D", data, "-l", log, "-w", "-t", "\(seconds)", "-s"],
            environment: env, currentDirectory: tmp, timeout: startTimeout + .seconds(15), runAs: runAs)
        guard result.status == 0, !result.timedOut else {
            throw TemporaryPostgresError("the replica failed to start: \(result.stderr)\n--- \(log) ---\n\(Self.tail(of: log))")
        }
        started = true
        return TemporaryPostgres(
            isExternal: false, hasAuthRoles: hasAuthRoles, externalURL: nil,
            host: "127.0.0.1", port: port, socketDirectory: sock, binDirectory: binDirectory,
            dataDirectory: data, temporaryDirectory: tmp, logFile: log,
            serverVersion: serverVersion, serverVersionNumber: serverVersionNumber,
            defaultUser: defaultUser, defaultDatabase: defaultDatabase,
            defaultPassword: nil, runAs: runAs, psqlUser: Self.superuser,
            postmasterPID: Self.readPostmasterPID(dataDirectory: data), startTimeout: startTimeout)
    }
}
