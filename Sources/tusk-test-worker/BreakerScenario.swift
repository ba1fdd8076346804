// `breaker`: one process's share of a PGBreaker: either it calls a failing downstream (`--role fail`) or a
// healthy one (`--role observe`), one call per millisecond, and reports when it is first refused per generation.

import Foundation
import PGCircuitBreaker
import PGStoreSupport
import Synchronization

/// Arguments: `--url`, `--schema`, `--key`, `--role fail|observe`, `--seconds`, `--cooldown-ms`.
/// Prints `ready`, then `learned gen=… at=…` when the process learns of an OPEN, `refused gen=<database generation>
/// at=<µs since epoch, wall clock>` on the first refusal of each generation, then `done calls=… refused=…`.
enum BreakerScenario: WorkerScenario {
    static let name = "breaker"

    struct Downstream: Error {}

    /// Emits `learned gen=… at=…` from the state-change callback.
    final class LearnedAt: Sendable {
        let breaker = Mutex<PGBreaker?>(nil)
        func mark() {
            let at = Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
            let generation = breaker.withLock { $0?.generation ?? -1 }
            WorkerOutput.emit("learned", [("gen", String(generation)), ("at", String(at))])
        }
    }

    static func run(_ arguments: WorkerArguments) async throws {
        var configuration = PGBreakerStore.Configuration(schemaName: try arguments.string("schema"))
        configuration.poolMaxSize = 2
        let store = try PGBreakerStore(.url(try arguments.string("url")), configuration: configuration)
        try await store.start()
        var policy = PGBreakerPolicy(cooldown: .milliseconds(try arguments.int("cooldown-ms", default: 600_000)),
                                     failureLimit: PGBreakerFraction(5, 10))
        // When this process learns of an OPEN (pushed by NOTIFY, or its own flush's answer).
        let learned = LearnedAt()
        policy.onStateChange = { _, _, to in
            if to == .open { learned.mark() }
        }
        let breaker = try store.breaker(try arguments.string("key"), policy: policy)
        learned.breaker.withLock { $0 = breaker }
        let failing = arguments.string("role", default: "observe") == "fail"
        let until = ContinuousClock.now + .seconds(try arguments.int("seconds", default: 30))
        await store.refreshNow()
        WorkerOutput.emit("ready")
        var (calls, refused) = (0, 0)
        var reported: Int64 = -1
        while ContinuousClock.now < until {
            do {
                try await breaker.run {
                    if failing { throw Downstream() }
                }
            } catch is PGBreakerOpenError {
                refused += 1
                let at = Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
                let generation = breaker.generation
                if generation != reported {
                    reported = generation
                    WorkerOutput.emit("refused", [("gen", String(generation)), ("at", String(at))])
                }
            } catch {}
            calls += 1
            try await Task.sleep(for: .milliseconds(1))
        }
        WorkerOutput.emit("done", [("calls", String(calls)), ("refused", String(refused))])
        await store.shutdown()
    }
}
