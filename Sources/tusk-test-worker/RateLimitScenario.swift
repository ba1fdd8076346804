// `ratelimit`: tasks of one process acquire from one PGRateLimiter until a deadline and report every admission.

import Foundation
import PGRateLimiter
import PGStoreSupport

/// Arguments: `--url`, `--schema`, `--limiter`, `--rate` (per second), `--burst`, `--max-concurrent`,
/// `--tasks`, `--seconds`, `--keys` (0: the limiter as a whole; n: a random key of n per acquire),
/// `--hold-ms` (how long a permit is held), `--lease-ms`, `--hold-forever` (take one permit and keep it).
/// Prints `ready`, then `admit key=… at=<µs since epoch, database clock>` per admission and `holding slot=…`
/// per permit that holds a slot, then `done admitted=… timeouts=…`.
enum RateLimitScenario: WorkerScenario {
    static let name = "ratelimit"

    static func run(_ arguments: WorkerArguments) async throws {
        var configuration = PGRateLimiterStore.Configuration()
        configuration.schemaName = try arguments.string("schema")
        configuration.poolMaxSize = try arguments.int("pool", default: 8)
        configuration.poolMinSize = 1
        let store = try PGRateLimiterStore(.url(try arguments.string("url")), configuration: configuration)
        try await store.start()
        let rate = Double(arguments.string("rate", default: "0")) ?? 0
        let burst = try arguments.int("burst", default: 1)
        let maxConcurrent = try arguments.int("max-concurrent", default: 0)
        let limit: PGRateLimit = rate > 0
            ? .perSecond(rate, burst: burst, maxConcurrent: maxConcurrent > 0 ? maxConcurrent : nil)
            : .concurrency(maxConcurrent)
        var options = PGRateLimiter.Options(timeout: .seconds(30))
        options.lease = .milliseconds(try arguments.int("lease-ms", default: 30_000))
        let limiter = try store.limiter(try arguments.string("limiter"), limit, options: options)
        let tasks = try arguments.int("tasks", default: 16)
        let seconds = try arguments.int("seconds", default: 5)
        let keys = try arguments.int("keys", default: 0)
        let hold = try arguments.int("hold-ms", default: 0)
        WorkerOutput.emit("ready")
        if arguments.values["hold-forever"] != nil {
            let permit = try await limiter.acquire()
            WorkerOutput.emit("holding", [("slot", String(permit.slot ?? -1))])
            while true { try await Task.sleep(for: .seconds(3_600)) }
        }
        let until = ContinuousClock.now + .seconds(seconds)
        let (admitted, timeouts) = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var (n, t) = (0, 0)
                    while ContinuousClock.now < until {
                        let key = keys > 0 ? "k\(Int.random(in: 0..<keys))" : ""
                        do {
                            let permit = try await limiter.acquire(key: key, timeout: .seconds(10))
                            if let at = permit.admittedAt {
                                WorkerOutput.emit("admit", [("key", key), ("at", String(Int64((at.timeIntervalSince1970 * 1_000_000).rounded())))])
                            }
                            if let slot = permit.slot { WorkerOutput.emit("holding", [("slot", String(slot))]) }
                            if hold > 0 { try await Task.sleep(for: .milliseconds(hold)) }
                            try await permit.release()
                            n += 1
                        } catch let error as PGStoreError where error.code == .timeout {
                            t += 1
                        }
                    }
                    return (n, t)
                }
            }
            var total = (0, 0)
            for try await r in group { total.0 += r.0; total.1 += r.1 }
            return total
        }
        WorkerOutput.emit("done", [("admitted", String(admitted)), ("timeouts", String(timeouts))])
        await store.shutdown()
    }
}
