import PGClient

/// `ping --url U`: connects, runs `SELECT 1`, prints `ready backend_pid=N`, closes, exits 0.
enum PingScenario: WorkerScenario {
    static let name = "ping"

    static func run(_ arguments: WorkerArguments) async throws {
        let connection = try await PGConnection.connect(try PGConnectionConfiguration(url: try arguments.string("url")))
        let one = try await connection.queryOne("SELECT 1", as: Int.self)
        WorkerOutput.emit("ready", [("backend_pid", String(await connection.backendProcessID)), ("one", String(one))])
        await connection.close()
    }
}
