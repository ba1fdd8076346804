import Foundation
import PGClient
import PGPoolCore

/// Tusk, in this process. `onLoop` runs the calling tasks on the connection's event loop
/// (`withTaskExecutorPreference(connection.eventLoop)`), which saves a thread hop per reply.
struct TuskClient: BenchClient {
    let onLoop: Bool
    var name: String { onLoop ? "Tusk (on its event loop)" : "Tusk (default executor)" }
    var key: String { onLoop ? "tusk-loop" : "tusk" }

    func run(_ workload: Workload, _ ctx: BenchContext) async throws -> Sample {
        switch workload {
        case .w1: return try await w1(ctx)
        case .w1p, .w1p0:
            guard let url = ctx.poolerURL else { throw NotAvailable(reason: "no PgBouncer (Scripts/setup-debian.sh installs it)") }
            var sample = try await w1(ctx, url: workload == .w1p ? url : BenchServer.adding("statement_cache_size=0", to: url))
            sample.note = workload == .w1p
                ? "prepared_statements=auto: the pooler is detected at connect; unnamed statements, binary results after the first run"
                : "statement_cache_size=0: unnamed statements, text results"
            return sample
        case .w2: return try await w2(ctx)
        case .w3: return try await w3(ctx)
        case .w6: return try await w6(ctx)
        case .w7: return try await w7(ctx, url: ctx.scramURL)
        case .w4: return try await w4(ctx)
        case .w5: return try await w5(ctx)
        case .w7tls:
            guard let tls = ctx.tlsURL else { throw NotAvailable(reason: "server has no TLS") }
            return try await w7(ctx, url: tls)
        }
    }

    private func connect(_ url: String, sameLoopAs other: PGConnection? = nil) async throws -> PGConnection {
        try await PGConnection.connect(try PGConnectionConfiguration(url: url), eventLoop: other?.eventLoop)
    }

    @inline(__always)
    private static func addOne(_ c: PGConnection, _ v: Int32) async throws -> Int {
        var result = 0
        for try await row in try await c.query(Workload.addOneSQL, [v]) {
            result = Int(try row.decode(Int32.self, column: 0))
        }
        return result
    }

    /// Runs `body` on the connection's event loop when `onLoop`, else on the default executor.
    private func maybeOnLoop<T>(_ c: PGConnection, _ body: () async throws -> T) async throws -> T {
        if onLoop {
            return try await withTaskExecutorPreference(c.eventLoop) { try await body() }
        }
        return try await body()
    }

    /// Sequential queries on one connection.
    private func w1(_ ctx: BenchContext, url: String? = nil) async throws -> Sample {
        let n = Workload.w1.count(scale: ctx.scale)
        let c = try await connect(url ?? ctx.url)
        defer { Task { await c.close() } }
        for i in 0..<200 { _ = try await Self.addOne(c, Workload.value(i)) }
        var sum = 0
        let sample = try await measureInProcess(server: ctx.server, operations: n) {
            sum = try await maybeOnLoop(c) {
                var s = 0
                for i in 0..<n { s &+= try await Self.addOne(c, Workload.value(i)) }
                return s
            }
        }
        try verify(sum == Workload.expectedAddOneSum(n), "W1 sum \(sum)")
        await c.close()
        return sample
    }

    /// `tasks` tasks over `connections` connections (task t uses connection t % connections), `n` queries in all.
    private func fanOut(_ connections: [PGConnection], tasks: Int, n: Int, server: ServerCPU?) async throws -> Sample {
        // Warm-up: prepare on every connection.
        for c in connections { for i in 0..<50 { _ = try await Self.addOne(c, Workload.value(i)) } }
        var sum = 0
        let sample = try await measureInProcess(server: server, operations: n) {
            sum = try await withThrowingTaskGroup(of: Int.self) { group in
                for t in 0..<tasks {
                    let c = connections[t % connections.count]
                    let onLoop = self.onLoop
                    let body: @Sendable () async throws -> Int = {
                        var s = 0
                        var i = t
                        while i < n { s &+= try await Self.addOne(c, Workload.value(i)); i += tasks }
                        return s
                    }
                    if onLoop {
                        group.addTask(executorPreference: c.eventLoop, operation: body)
                    } else {
                        group.addTask(operation: body)
                    }
                }
                var total = 0
                for try await s in group { total &+= s }
                return total
            }
        }
        try verify(sum == Workload.expectedAddOneSum(n), "sum \(sum)")
        return sample
    }

    private func w2(_ ctx: BenchContext) async throws -> Sample {
        let n = Workload.w2.count(scale: ctx.scale)
        let pool = PGPool(configuration: try PGConnectionConfiguration(url: ctx.url),
                          options: .init(pool: PGPoolConfiguration(minimumConnections: 8, maximumConnections: 8)))
        await pool.start()
        let add: @Sendable (Int32) async throws -> Int = { v in
            Int(try await pool.queryOne(PGQuery(unsafeSQL: Workload.addOneSQL, [v]), as: Int32.self))
        }
        for i in 0..<400 { _ = try await add(Workload.value(i)) }
        // "On its event loop": each task prefers one of the pool's loops and is served by connections of that loop.
        let loops = pool.eventLoops
        let onLoop = self.onLoop
        var sum = 0
        var sample = try await measureInProcess(server: ctx.server, operations: n) {
            sum = try await withThrowingTaskGroup(of: Int.self) { group in
                for t in 0..<64 {
                    let body: @Sendable () async throws -> Int = {
                        var s = 0
                        var i = t
                        while i < n { s &+= try await add(Workload.value(i)); i += 64 }
                        return s
                    }
                    if onLoop {
                        group.addTask(executorPreference: loops[t % loops.count], operation: body)
                    } else {
                        group.addTask(operation: body)
                    }
                }
                var total = 0
                for try await s in group { total &+= s }
                return total
            }
        }
        try verify(sum == Workload.expectedAddOneSum(n), "W2 sum \(sum)")
        await pool.shutdown()
        sample.note = onLoop
            ? "PGPool (8 connections); tasks prefer the pool's event loops (pool.eventLoops) and get connections of their loop"
            : "PGPool (8 connections); plain tasks; statements pipelined onto connections nobody holds exclusively"
        return sample
    }

    /// COPY FROM STDIN of n rows (i, "row-<i>", i * 0.5), binary format, rows generated in the window.
    private func w4(_ ctx: BenchContext) async throws -> Sample {
        let n = Workload.w4.count(scale: ctx.scale)
        let c = try await connect(ctx.url)
        defer { Task { await c.close() } }
        try await CopyTable.reset { sql in _ = try await c.simpleQuery(sql) }
        var sample = try await measureInProcess(server: ctx.server, operations: n) {
            _ = try await maybeOnLoop(c) {
                try await c.copyInRows(table: Workload.copyTable, columns: ["a", "b", "c"]) { rows in
                    for i in 1...n { try await rows.writeRow(Int64(i), "row-\(i)", Double(i) * 0.5) }
                }
            }
        }
        let (count, sumA, sumLen) = try await c.queryOne(PGQuery(unsafeSQL: CopyTable.checkSQL), as: (Int, Int, Int).self)
        try CopyTable.check(n: n, count: count, sumA: sumA, sumLen: sumLen)
        sample.note = "binary COPY (copyInRows), 64 KiB CopyData messages"
        await c.close()
        return sample
    }

    /// NOTIFY on one connection, delivery awaited on a LISTENing one.
    private func w5(_ ctx: BenchContext) async throws -> Sample {
        let n = Workload.w5.count(scale: ctx.scale)
        let listener = try await connect(ctx.url)
        let sender = try await connect(ctx.url, sameLoopAs: listener)
        defer { Task { await listener.close(); await sender.close() } }
        let notifications = try await listener.listen(Workload.notifyChannel)
        var sample = try await maybeOnLoop(listener) {
            var iterator = notifications.makeAsyncIterator()
            return try await measureNotifyRoundTrips(
                server: ctx.server, n: n,
                send: { i in try await sender.notify(channel: Workload.notifyChannel, payload: String(i)) },
                receive: { try await iterator.next()?.payload })
        }
        sample.note = "notify() on a second connection, wait for delivery"
        await listener.close()
        await sender.close()
        return sample
    }

    private func w6(_ ctx: BenchContext) async throws -> Sample {
        let c = try await connect(ctx.url)
        defer { Task { await c.close() } }
        var s = try await fanOut([c], tasks: 64, n: Workload.w6.count(scale: ctx.scale), server: ctx.server)
        s.note = "64 tasks share one connection (up to 64 in flight)"
        return s
    }

    private func w3(_ ctx: BenchContext) async throws -> Sample {
        let n = Workload.w3.count(scale: ctx.scale)
        let c = try await connect(ctx.url)
        defer { Task { await c.close() } }
        // Warm-up: prepares the statement, a small result.
        for try await row in try await c.query(Workload.decodeSQL, [Int32(10)]) { _ = try row.decode((Int, String, Double, Date).self) }
        var count = 0, sumI = 0, sumLen = 0
        var sumD = 0.0
        var lastDate = Date.distantPast
        let sample = try await measureInProcess(server: ctx.server, operations: n) {
            (count, sumI, sumLen, sumD, lastDate) = try await maybeOnLoop(c) {
                var count = 0, sumI = 0, sumLen = 0
                var sumD = 0.0
                var last = Date.distantPast
                for try await row in try await c.query(Workload.decodeSQL, [Int32(n)]) {
                    let (i, s, d, t) = try row.decode((Int, String, Double, Date).self)
                    count += 1; sumI &+= i; sumLen &+= s.utf8.count; sumD += d; last = t
                }
                return (count, sumI, sumLen, sumD, last)
            }
        }
        try checkDecode(n: n, count: count, sumI: sumI, sumLen: sumLen, sumD: sumD, date: lastDate)
        await c.close()
        return sample
    }

    private func w7(_ ctx: BenchContext, url: String) async throws -> Sample {
        let n = Workload.w7.count(scale: ctx.scale)
        let config = try PGConnectionConfiguration(url: url)
        let first = try await PGConnection.connect(config)
        let method = await first.authenticationMethod ?? ""
        // All connections on the first one's event loop; `onLoop` also runs the caller there.
        let loop = first.eventLoop
        await first.close()
        let connectLoop: @Sendable () async throws -> Void = {
            for _ in 0..<n { await (try await PGConnection.connect(config, eventLoop: loop)).close() }
        }
        for _ in 0..<5 { await (try await PGConnection.connect(config, eventLoop: loop)).close() }
        let sample = try await measureInProcess(server: ctx.server, operations: n) {
            if onLoop {
                try await withTaskExecutorPreference(loop) { try await connectLoop() }
            } else {
                try await connectLoop()
            }
        }
        var s = sample
        s.note = "auth: \(method)"
        return s
    }
}
