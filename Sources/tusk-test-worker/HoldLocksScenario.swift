import PGClient

/// `hold-locks --url U --table T --id N --lock K [--hold-seconds S]`: opens a transaction, locks the
/// row `id = N` of table T (`SELECT … FOR UPDATE`) and takes `pg_advisory_xact_lock(K)`, prints
/// `locked backend_pid=P table=T id=N lock=K`, then holds both for S seconds (default 600: until it is
/// killed) and rolls back, printing `released`.
enum HoldLocksScenario: WorkerScenario {
    static let name = "hold-locks"

    static func run(_ arguments: WorkerArguments) async throws {
        let table = try arguments.string("table")
        let id = try arguments.int("id")
        let lock = try arguments.int("lock")
        let hold = try arguments.int("hold-seconds", default: 600)
        let connection = try await PGConnection.connect(try PGConnectionConfiguration(url: try arguments.string("url")))
        let pid = await connection.backendProcessID
        _ = try await connection.execute("BEGIN")
        let locked = try await connection.query("SELECT id FROM \(identifier: table) WHERE id = \(id) FOR UPDATE").collect()
        guard locked.count == 1 else { throw WorkerFailure("no row id = \(id) in \(table)") }
        _ = try await connection.execute("SELECT pg_advisory_xact_lock(\(Int64(lock)))")
        WorkerOutput.emit("locked", [("backend_pid", String(pid)), ("table", table), ("id", String(id)), ("lock", String(lock))])
        try await Task.sleep(for: .seconds(hold))
        _ = try await connection.execute("ROLLBACK")
        WorkerOutput.emit("released", [("backend_pid", String(pid))])
        await connection.close()
    }
}
