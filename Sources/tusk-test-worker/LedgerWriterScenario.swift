import PGClient
import PGTestSupport

/// `ledger-writer --url U --schema S --worker W --keys a,b,c [--kind processed] [--delay-ms N] [--repeat R]`:
/// records each key in the ledger of schema S (`PGLedger`, created if missing) as `kind`, one statement
/// per entry, R times over (default 1), printing `recorded key=K kind=… worker=W` after each commit and
/// `done count=N` at the end. A kill between entries leaves exactly the printed ones.
enum LedgerWriterScenario: WorkerScenario {
    static let name = "ledger-writer"

    static func run(_ arguments: WorkerArguments) async throws {
        let ledger = PGLedger(schema: try arguments.string("schema"))
        let worker = try arguments.string("worker")
        let kind = PGLedger.Kind(arguments.string("kind", default: PGLedger.Kind.processed.rawValue))
        let keys = try arguments.string("keys").split(separator: ",").map(String.init)
        let delay = try arguments.int("delay-ms", default: 0)
        let rounds = try arguments.int("repeat", default: 1)
        let connection = try await PGConnection.connect(try PGConnectionConfiguration(url: try arguments.string("url")))
        try await ledger.create(on: connection)
        var count = 0
        for _ in 0..<rounds {
            for key in keys {
                try await ledger.record(kind, key: key, worker: worker, on: connection)
                count += 1
                WorkerOutput.emit("recorded", [("key", key), ("kind", kind.rawValue), ("worker", worker)])
                if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
            }
        }
        WorkerOutput.emit("done", [("count", String(count)), ("worker", worker)])
        await connection.close()
    }
}
