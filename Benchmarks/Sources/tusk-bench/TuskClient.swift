import Foundation
import PGClient

/// Tusk, in this process. `onLoop` runs the calling tasks on the connection's event loop
/// (`withTaskExecutorPreference(connection.eventLoop)`), which saves a thread hop per reply.
struct TuskClient: BenchClient {
    let onLoop: Bool
    var name: String { onLoop ? "Tusk (on its event loop)" : "Tusk (default executor)" }
    var key: String { onLoop ? "tusk-loop" : "tusk" }

    func run(_ workload: Workload, _ ctx: BenchContext) async throws -> Sample {
        switch workload {
        case .w1: try await w1(ctx)
        case .w2: try await w2(ctx)
        case .w3: try await w3(ctx)
        case .w6: try await w6(ctx)
        case .w7: try await w7(ctx)
        case .w4: throw NotAvailable(reason: "COPY not implemented in Tusk yet")
        case .w5: throw NotAvailable(reason: "LISTEN/NOTIFY not implemented in Tusk yet")
        case .w7tls: throw NotAvailable(reason: "TLS not implemented in Tusk yet")
        }
    }

    private func connect(_ url: String) async throws -> PGConnection {
        try await PGConnection.connect(try PGConnectionConfiguration(url: url))
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
    private func maybeOnLoop<T: Sendable>(_ c: PGConnection, _ body: @Sendable () async throws -> T) async throws -> T {
        if onLoop {
            return try await withTaskExecutorPreference(c.eventLoop) { try await body() }
        }
        return try await body()
    }

    /// Sequential queries on one connection.
    private func w1(_ ctx: BenchContext) async throws -> Sample {
        let n = Workload.w1.count(scale: ctx.scale)
        let c = try await connect(ctx.url)
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
        var conns: [PGConnection] = []
        for _ in 0..<8 { conns.append(try await connect(ctx.url)) }
        defer { let cs = conns; Task { for c in cs { await c.close() } } }
        var s = try await fanOut(conns, tasks: 64, n: Workload.w2.count(scale: ctx.scale), server: ctx.server)
        s.note = "no pool yet: 8 connections, 64 tasks assigned round-robin; pipelined per connection"
        return s
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

    private func w7(_ ctx: BenchContext) async throws -> Sample {
        let n = Workload.w7.count(scale: ctx.scale)
        let config = try PGConnectionConfiguration(url: ctx.scramURL)
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
