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
        let dir = try Self.makeClusterDirectory(prefix: "tusk-rep", runAs: runAs)
        let (tmp, data, sock, log) = (dir.path, dir.data, dir.socket, dir.log)
        var started = false
        defer { if !started { Self.discardClusterDirectory(dir) } }
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
