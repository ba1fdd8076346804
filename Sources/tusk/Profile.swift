import Foundation
import PGClient
import PGPoolCore
import PGTransport

/// Single-client workloads for profiling Tusk alone (`tusk profile <workload>`); the side-by-side
/// comparison lives in the Benchmarks package.
enum Profile {
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static func userSeconds() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
    }

    static func measure(_ name: String, operations: Int, unit: String, _ body: () async throws -> Void) async rethrows {
        let cpu0 = cpuSeconds()
        let user0 = userSeconds()
        let t0 = ContinuousClock.now
        try await body()
        let elapsed = ContinuousClock.now - t0
        let cpu = cpuSeconds() - cpu0
        let user = userSeconds() - user0
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "%@: %.0f %@/s, %.2f µs client CPU per %@ (%.2f user) (%.2f s)", name, Double(operations) / seconds, unit,
                     cpu / Double(operations) * 1e6, unit, user / Double(operations) * 1e6, seconds))
    }

    static func run(url: String, workload: String, scale: Double) async throws {
        let config = try PGConnectionConfiguration(url: url)
        let c = try await PGConnection.connect(config)
        switch workload {
        case "w1", "w1-loop":
            let n = Int(40_000 * scale)
            let onLoop = workload == "w1-loop"
            for i in 0..<200 { _ = try await Bench.one(c, Int32(i)) }
            let polls0 = c.eventLoop.pollCounts
            defer {
                let polls = c.eventLoop.pollCounts
                print("  polls before parking: \(polls.answered - polls0.answered) answered, \(polls.ranOut - polls0.ranOut) ran out")
                func micros(_ d: Duration) -> String {
                    String(format: "%.1f µs", Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12)
                }
                print("  park cost: \(c.eventLoop.parkCost.map(micros) ?? "not measured"), poll budget: \(micros(c.eventLoop.pollBudget))")
            }
            try await measure("W1 sequential\(onLoop ? " on the loop" : "")", operations: n, unit: "query") {
                let body = {
                    var check = 0
                    for i in 0..<n { check &+= try await Bench.one(c, Int32(i & 0xFFFF)) }
                    return check
                }
                let check = onLoop ? try await withTaskExecutorPreference(c.eventLoop, operation: body) : try await body()
                guard check > 0 else { throw PGError(code: .misuse, message: "wrong results") }
            }
        case "mixed-loop":
            // On the loop, fast statements mixed with ones that take about a millisecond: polling must back off.
            let n = Int(4_000 * scale)
            for i in 0..<200 { _ = try await Bench.one(c, Int32(i)) }
            _ = try await c.query("SELECT pg_sleep($1)", [0.0]).collect()
            try await measure("mixed on the loop (3 fast : 1 of 1 ms)", operations: n, unit: "query") {
                let body = {
                    var check = 0
                    for i in 0..<n {
                        if i % 4 == 3 {
                            _ = try await c.query("SELECT pg_sleep($1)", [0.001]).collect()
                        } else {
                            check &+= try await Bench.one(c, Int32(i & 0xFFFF))
                        }
                    }
                    return check
                }
                guard try await withTaskExecutorPreference(c.eventLoop, operation: body) > 0 else {
                    throw PGError(code: .misuse, message: "wrong results")
                }
            }
        case "decode":
            let n = Int(1_000_000 * scale)
            try await measure("W3 decode", operations: n, unit: "row") {
                var count = 0
                var sum = 0
                for try await (i, text, x, at) in try await c.query("SELECT i, i::text, i * 1.5::float8, now() FROM generate_series(1, \(n)) i").decode((Int, String, Double, Date).self) {
                    count += 1
                    sum &+= i &+ text.utf8.count &+ Int(x) &+ Int(at.timeIntervalSince1970)
                }
                guard count == n else { throw PGError(code: .misuse, message: "wrong row count \(count)") }
            }
        case "stream":
            // 10 million rows: memory must stay flat (rows are never all held).
            let n = Int(10_000_000 * scale)
            func rss() -> Int {
                let text = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
                return (Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0) * 4096
            }
            let before = rss()
            var peak = before
            try await measure("stream \(n) rows", operations: n, unit: "row") {
                var count = 0
                for try await (i, _) in try await c.query("SELECT i, i::text FROM generate_series(1, \(n)) i").decode((Int, String).self) {
                    count += 1
                    if i % 100_000 == 0 { peak = max(peak, rss()) }
                }
                guard count == n else { throw PGError(code: .misuse, message: "wrong row count \(count)") }
            }
            print("  resident memory: \(before >> 20) MiB before, peak \(peak >> 20) MiB while streaming")
        case "copy":
            let n = Int(1_000_000 * scale)
            _ = try await c.simpleQuery("DROP TABLE IF EXISTS tusk_profile_copy; CREATE UNLOGGED TABLE tusk_profile_copy (id int8, name text, value float8)")
            try await measure("W4 COPY FROM (binary)", operations: n, unit: "row") {
                try await c.copyInRows(table: "tusk_profile_copy", columns: ["id", "name", "value"]) { rows in
                    for i in 0..<n { try await rows.writeRow(Int64(i), "row-\(i)", Double(i) * 1.5) }
                }
            }
            let count = try await c.queryOne("SELECT count(*)::int8 FROM tusk_profile_copy", as: Int.self)
            guard count == n else { throw PGError(code: .misuse, message: "wrong row count \(count)") }
            _ = try await c.simpleQuery("DROP TABLE tusk_profile_copy")
        case "pipeline", "pipeline-loop":
            let n = Int(200_000 * scale)
            let loop: (any TaskExecutor)? = workload == "pipeline-loop" ? c.eventLoop : nil
            try await measure("W6 pipelined (64 in flight, 1 connection\(loop == nil ? "" : ", tasks on its loop"))", operations: n, unit: "query") {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for t in 0..<64 {
                        group.addTask(executorPreference: loop) {
                            for i in stride(from: t, to: n, by: 64) {
                                _ = try await c.queryOne("SELECT \(Int32(i & 0xFFFF)) + 1", as: Int32.self)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
        case "pool", "pool-loops":
            let n = Int(200_000 * scale)
            let pool = PGPool(configuration: config, options: .init(pool: .init(minimumConnections: 8, maximumConnections: 8)))
            await pool.start()
            let loops = pool.eventLoops
            let onLoops = workload == "pool-loops"
            try await measure(onLoops ? "W2 pool (64 tasks on the pool's event loops, 8 connections)" : "W2 pool (64 tasks, 8 connections)",
                              operations: n, unit: "query") {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for t in 0..<64 {
                        group.addTask(executorPreference: onLoops ? loops[t % loops.count] : nil) {
                            for i in stride(from: t, to: n, by: 64) {
                                _ = try await pool.queryOne("SELECT \(Int32(i & 0xFFFF)) + 1", as: Int32.self)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            await pool.shutdown()
        case "direct":
            let n = Int(200_000 * scale)
            var conns: [PGConnection] = []
            for _ in 0..<8 { conns.append(try await PGConnection.connect(config)) }
            let all = conns
            try await measure("W2 direct (64 tasks, 8 connections, no pool)", operations: n, unit: "query") {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for t in 0..<64 {
                        group.addTask {
                            let conn = all[t % 8]
                            for i in stride(from: t, to: n, by: 64) {
                                _ = try await conn.queryOne("SELECT \(Int32(i & 0xFFFF)) + 1", as: Int32.self)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            for conn in all { await conn.close() }
        case "notify":
            let n = Int(2_000 * scale)
            let listener = try await PGConnection.connect(config)
            let events = try await listener.listen("tusk_profile")
            var latencies: [Double] = []
            var iterator = events.makeAsyncIterator()
            try await measure("W5 NOTIFY round trip", operations: n, unit: "notification") {
                for i in 0..<n {
                    let t0 = ContinuousClock.now
                    try await c.notify(channel: "tusk_profile", payload: String(i))
                    guard let got = try await iterator.next(), got.payload == String(i) else {
                        throw PGError(code: .misuse, message: "lost notification \(i)")
                    }
                    let d = ContinuousClock.now - t0
                    latencies.append(Double(d.components.attoseconds) / 1e12 + Double(d.components.seconds) * 1e6)
                }
            }
            latencies.sort()
            print(String(format: "  p50 %.0f µs, p99 %.0f µs", latencies[latencies.count / 2], latencies[latencies.count * 99 / 100]))
            await listener.close()
        default:
            print("workloads: w1, w1-loop, mixed-loop, decode, stream, copy, pipeline, pipeline-loop, pool, pool-loops, direct, notify")
        }
        await c.close()
    }
}
