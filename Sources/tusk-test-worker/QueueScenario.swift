import Foundation
import PGClient
import PGStoreSupport
import PGTestSupport
import PGWorkQueue

/// `queue-consumer --url U --schema S --queue Q --worker W [--batch N] [--work-ms N]`: leases batches from
/// queue Q of schema S and completes them; each batch's completion and its ledger rows (`processed`, key =
/// the item's source id, value = its attempts) commit in ONE transaction, so a kill leaves both or neither.
/// Prints `ready`, then `batch count=N fenced=F` per batch. Runs until killed or its input closes.
enum QueueScenario: WorkerScenario {
    static let name = "queue-consumer"

    static func run(_ arguments: WorkerArguments) async throws {
        let url = try arguments.string("url")
        let schema = try arguments.string("schema")
        let worker = try arguments.string("worker")
        let batch = try arguments.int("batch", default: 20)
        let work = try arguments.int("work-ms", default: 2)
        var configuration = PGWorkQueueStore.Configuration(schemaName: schema)
        configuration.holder = "\(worker):\(ProcessInfo.processInfo.processIdentifier)"
        configuration.sweepInterval = .milliseconds(100)
        let store = try PGWorkQueueStore(.url(url), configuration: configuration)
        try await store.start()
        let queue = try await store.queue(try arguments.string("queue"))
        let ledger = PGLedger(schema: schema)
        let configurationOfLedger = try PGConnectionConfiguration(url: url)
        var connection = try await PGConnection.connect(configurationOfLedger)
        WorkerOutput.emit("ready", [("worker", worker)])
        while true {
            do {
                try await step(queue, connection, ledger, worker: worker, batch: batch, work: work)
            } catch {
                // The database went away (a restart): say so, wait, reconnect, go on. Leases held now expire.
                WorkerOutput.emit("retrying", [("message", "\(error)")])
                try await Task.sleep(for: .milliseconds(200))
                if let fresh = try? await PGConnection.connect(configurationOfLedger) {
                    await connection.close()
                    connection = fresh
                }
            }
        }
    }

    static func step(_ queue: PGWorkQueue, _ connection: PGConnection, _ ledger: PGLedger, worker: String,
                     batch: Int, work: Int) async throws {
        do {
            let items = try await queue.lease(max: batch)
            if items.isEmpty {
                await queue.waitForWork(timeout: .milliseconds(200))
                return
            }
            if work > 0 { try await Task.sleep(for: .milliseconds(work)) }
            let fenced = try await connection.withTransaction { tx in
                let outcomes = try await queue.complete(items, on: tx)
                for (item, outcome) in zip(items, outcomes) where outcome == .done {
                    _ = try await tx.execute(ledger.insert(.processed, key: item.sourceID ?? item.id, worker: worker, value: item.attempts))
                }
                return outcomes.filter { $0 == .fenced }.count
            }
            WorkerOutput.emit("batch", [("count", String(items.count)), ("fenced", String(fenced))])
        }
    }
}
