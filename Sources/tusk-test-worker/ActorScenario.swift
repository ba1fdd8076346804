// `actors`: one process of a PGActorStateStore test.
//   --mode count (default): `--tasks` concurrent tasks run `--increments` transforms on each of `--actors`
//     counters `a0`…, in shuffled order; prints `ready`, then `done ok=… failed=…`.
//   --mode hold: activates `--actor` for `--lease-ms`, renews it every third of the lease, prints
//     `activated token=…` and saves through the activation every 50 ms (`saved seq=…`) until killed.

import Foundation
import PGActorStateStore
import PGStoreSupport
import Synchronization

enum ActorScenario: WorkerScenario {
    static let name = "actors"

    struct Counter: Codable, Sendable { var value: Int }

    final class NextIndex: Sendable { let value = Atomic<Int>(0) }

    static func run(_ arguments: WorkerArguments) async throws {
        var configuration = PGActorStateStore.Configuration(schemaName: try arguments.string("schema"))
        configuration.poolMaxSize = try arguments.int("pool", default: 4)
        let store = try PGActorStateStore(.url(try arguments.string("url")), configuration: configuration)
        try await store.start()
        if arguments.string("mode", default: "count") == "hold" {
            try await hold(store, arguments)
            return
        }
        let actors = try arguments.int("actors", default: 10)
        let increments = try arguments.int("increments", default: 10)
        let tasks = try arguments.int("tasks", default: 8)
        let work = (0..<actors).flatMap { a in Array(repeating: "a\(a)", count: increments) }.shuffled()
        let next = NextIndex()
        WorkerOutput.emit("ready")
        let (ok, failed) = await withTaskGroup(of: (Int, Int).self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var (ok, failed) = (0, 0)
                    while true {
                        let i = next.value.add(1, ordering: .relaxed).oldValue
                        guard i < work.count else { break }
                        do {
                            try await store.transform(for: work[i], as: Counter.self) { Counter(value: ($0?.value ?? 0) + 1) }
                            ok += 1
                        } catch {
                            failed += 1
                            WorkerOutput.emit("failure", [("message", "\(error)")])
                        }
                    }
                    return (ok, failed)
                }
            }
            var total = (0, 0)
            for await r in group { total.0 += r.0; total.1 += r.1 }
            return total
        }
        WorkerOutput.emit("done", [("ok", String(ok)), ("failed", String(failed))])
        await store.shutdown()
    }

    static func hold(_ store: PGActorStateStore, _ arguments: WorkerArguments) async throws {
        let actor = try arguments.string("actor")
        let lease = Duration.milliseconds(try arguments.int("lease-ms", default: 2_000))
        var activation = try await store.activate(actor, lease: lease)
        WorkerOutput.emit("activated", [("token", String(activation.lease.token.rawValue))])
        var lastRenew = ContinuousClock.now
        while true {
            if ContinuousClock.now - lastRenew > lease / 3 {
                activation = try await store.renew(activation, lease: lease)
                lastRenew = .now
            }
            let r = try await store.transform(for: actor, as: Counter.self, activation: activation) { Counter(value: ($0?.value ?? 0) + 1) }
            WorkerOutput.emit("saved", [("seq", String(r.sequenceNumber))])
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
