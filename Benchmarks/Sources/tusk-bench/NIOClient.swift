import Foundation
import Logging
import PostgresNIO

/// `SELECT $1::int4 + 1` as a PostgresNIO prepared statement (prepared once per connection,
/// then Bind/Execute/Sync), PostgresNIO's fastest path for a repeated statement.
struct AddOneStatement: PostgresPreparedStatement {
    static let sql = Workload.addOneSQL
    typealias Row = Int32
    var value: Int32
    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 1)
        b.append(value)
        return b
    }
    func decodeRow(_ row: PostgresRow) throws -> Int32 { try row.decode(Int32.self) }
}

/// PostgresNIO, in this process: either a `PostgresClient` (its pool, `run()` in a task group) or
/// `PostgresConnection`s opened directly on the NIO event loop group.
struct NIOClient: BenchClient {
    enum Mode { case client, connection }
    let mode: Mode
    var name: String { mode == .client ? "PostgresNIO (PostgresClient)" : "PostgresNIO (PostgresConnection)" }
    var key: String { mode == .client ? "nio-client" : "nio-conn" }

    static let logger = Logger(label: "tusk-bench.nio")
    static var group: any EventLoopGroup { MultiThreadedEventLoopGroup.singleton }

    func run(_ workload: Workload, _ ctx: BenchContext) async throws -> Sample {
        if mode == .client && (workload == .w7 || workload == .w7tls) {
            throw NotAvailable(reason: "a pool does not measure set-up; see the PostgresConnection row")
        }
        switch workload {
        case .w1: return try await addOne(ctx, n: Workload.w1.count(scale: ctx.scale), connections: 1, tasks: 1)
        case .w1p:
            guard let url = ctx.poolerURL else { throw NotAvailable(reason: "no PgBouncer") }
            var pooled = ctx
            pooled.url = url
            var sample = try await addOne(pooled, n: Workload.w1.count(scale: ctx.scale), connections: 1, tasks: 1)
            sample.note = "unnamed statements (its default)"
            return sample
        case .w1p0: throw NotAvailable(reason: "PostgresNIO has no statement cache; see W1-P")
        case .w2:
            var s = try await addOne(ctx, n: Workload.w2.count(scale: ctx.scale), connections: 8, tasks: 64)
            s.note = mode == .client ? "PostgresClient, maximumConnections 8, 64 tasks" : "8 connections, 64 tasks round-robin"
            return s
        case .w6:
            var s = try await addOne(ctx, n: Workload.w6.count(scale: ctx.scale), connections: 1, tasks: 64)
            s.note = "64 tasks share one connection (PostgresNIO queues them; it does not pipeline)"
            return s
        case .w3: return try await decode(ctx)
        case .w4:
            guard mode == .connection else { throw NotAvailable(reason: "measured once, with PostgresConnection") }
            return try await copy(ctx)
        case .w5: return try await notify(ctx)
        case .w7: return try await connectLoop(ctx, url: ctx.scramURL, tls: false)
        case .w7tls:
            guard let url = ctx.tlsURL else { throw NotAvailable(reason: "server has no TLS") }
            return try await connectLoop(ctx, url: url, tls: true)
        }
    }

    // MARK: Connections

    static func tlsConfiguration() throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none  // sslmode=require semantics, like the other clients
        return tls
    }

    static func connectionConfiguration(_ url: String, tls: Bool) throws -> PostgresConnection.Configuration {
        let e = try BenchContext.endpoint(url)
        return PostgresConnection.Configuration(
            host: e.host, port: e.port, username: e.user, password: e.password, database: e.database,
            tls: tls ? .require(try NIOSSLContext(configuration: tlsConfiguration())) : .disable)
    }

    static func openConnection(_ url: String, id: Int, tls: Bool = false) async throws -> PostgresConnection {
        try await PostgresConnection.connect(
            on: group.next(), configuration: connectionConfiguration(url, tls: tls), id: id, logger: logger)
    }

    /// Opens and closes one TLS connection; the error's description when that fails.
    static func probeTLS(_ url: String) async -> String? {
        do {
            try await openConnection(url, id: 0, tls: true).close()
            return nil
        } catch {
            return String(reflecting: error)
        }
    }

    /// Runs `body` with a running PostgresClient of at most `connections` connections.
    static func withClient<T: Sendable>(_ url: String, connections: Int, _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let e = try BenchContext.endpoint(url)
        var config = PostgresClient.Configuration(host: e.host, port: e.port, username: e.user, password: e.password, database: e.database, tls: .disable)
        config.options.minimumConnections = connections
        config.options.maximumConnections = connections
        let client = PostgresClient(configuration: config, eventLoopGroup: group, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { g in
            g.addTask { await client.run(); return nil }
            defer { g.cancelAll() }
            // Let run() start before the first lease (else PostgresNIO logs a warning); outside any window.
            try await Task.sleep(for: .milliseconds(20))
            return try await body(client)
        }
    }

    // MARK: W1, W2, W6

    /// `n` queries from `tasks` tasks; task t uses connection t % connections (or the pool).
    private func addOne(_ ctx: BenchContext, n: Int, connections: Int, tasks: Int) async throws -> Sample {
        switch mode {
        case .client:
            return try await Self.withClient(ctx.url, connections: connections) { client in
                let run: @Sendable (Int, Int) async throws -> Int = { t, total in
                    var s = 0, i = t
                    while i < total {
                        for try await v in try await client.execute(AddOneStatement(value: Workload.value(i)), logger: Self.logger) { s &+= Int(v) }
                        i += tasks
                    }
                    return s
                }
                // Warm-up: open all connections and prepare the statement on them.
                _ = try await Self.fanOut(tasks: max(tasks, connections), n: 50 * connections, run)
                return try await Self.measureFanOut(ctx, tasks: tasks, n: n, run)
            }
        case .connection:
            var conns: [PostgresConnection] = []
            for id in 0..<connections { conns.append(try await Self.openConnection(ctx.url, id: id)) }
            defer { let cs = conns; Task { for c in cs { try? await c.close() } } }
            let cs = conns
            let run: @Sendable (Int, Int) async throws -> Int = { t, total in
                let c = cs[t % cs.count]
                var s = 0, i = t
                while i < total {
                    for try await v in try await c.execute(AddOneStatement(value: Workload.value(i)), logger: Self.logger) { s &+= Int(v) }
                    i += tasks
                }
                return s
            }
            _ = try await Self.fanOut(tasks: max(tasks, connections), n: 50 * connections, run)
            let sample = try await Self.measureFanOut(ctx, tasks: tasks, n: n, run)
            for c in conns { try await c.close() }
            return sample
        }
    }

    static func fanOut(tasks: Int, n: Int, _ run: @escaping @Sendable (Int, Int) async throws -> Int) async throws -> Int {
        if tasks == 1 { return try await run(0, n) }
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for t in 0..<tasks { group.addTask { try await run(t, n) } }
            var total = 0
            for try await s in group { total &+= s }
            return total
        }
    }

    static func measureFanOut(_ ctx: BenchContext, tasks: Int, n: Int, _ run: @escaping @Sendable (Int, Int) async throws -> Int) async throws -> Sample {
        var sum = 0
        let sample = try await measureInProcess(server: ctx.server, operations: n) {
            sum = try await fanOut(tasks: tasks, n: n, run)
        }
        try verify(sum == Workload.expectedAddOneSum(n), "sum \(sum)")
        return sample
    }

    // MARK: W3

    private func decode(_ ctx: BenchContext) async throws -> Sample {
        let n = Workload.w3.count(scale: ctx.scale)
        let body: @Sendable (@Sendable (PostgresQuery) async throws -> PostgresRowSequence) async throws -> Sample = { query in
            func q(_ count: Int) throws -> PostgresQuery {
                var b = PostgresBindings(capacity: 1)
                b.append(Int32(count))
                return PostgresQuery(unsafeSQL: Workload.decodeSQL, binds: b)
            }
            for try await _ in try await query(q(10)).decode((Int, String, Double, Date).self) {}
            var count = 0, sumI = 0, sumLen = 0
            var sumD = 0.0
            var last = Date.distantPast
            let sample = try await measureInProcess(server: ctx.server, operations: n) {
                for try await (i, s, d, t) in try await query(q(n)).decode((Int, String, Double, Date).self) {
                    count += 1; sumI &+= i; sumLen &+= s.utf8.count; sumD += d; last = t
                }
            }
            try checkDecode(n: n, count: count, sumI: sumI, sumLen: sumLen, sumD: sumD, date: last)
            return sample
        }
        switch mode {
        case .client:
            return try await Self.withClient(ctx.url, connections: 1) { client in
                try await body { try await client.query($0, logger: Self.logger) }
            }
        case .connection:
            let c = try await Self.openConnection(ctx.url, id: 1)
            let sample = try await body { try await c.query($0, logger: Self.logger) }
            try await c.close()
            return sample
        }
    }

    // MARK: W4

    private func copy(_ ctx: BenchContext) async throws -> Sample {
        let n = Workload.w4.count(scale: ctx.scale)
        let c = try await Self.openConnection(ctx.url, id: 1)
        defer { Task { try? await c.close() } }
        try await CopyTable.reset { sql in _ = try await c.query(PostgresQuery(unsafeSQL: sql), logger: Self.logger).collect() }
        var sample = try await measureInProcess(server: ctx.server, operations: n) {
            try await c.copyFrom(table: Workload.copyTable, columns: ["a", "b", "c"], logger: Self.logger) { writer in
                var buffer = ByteBuffer()
                buffer.reserveCapacity(1 << 17)
                for i in 1...n {
                    buffer.writeString(CopyTable.textLine(i))
                    if buffer.readableBytes >= 1 << 16 {
                        try await writer.write(buffer)
                        buffer.clear()
                    }
                }
                if buffer.readableBytes > 0 { try await writer.write(buffer) }
            }
        }
        let rows = try await c.query(PostgresQuery(unsafeSQL: CopyTable.checkSQL), logger: Self.logger)
        for try await (count, sumA, sumLen) in rows.decode((Int, Int, Int).self) {
            try CopyTable.check(n: n, count: count, sumA: sumA, sumLen: sumLen)
        }
        sample.note = "text format, 64 KiB CopyData messages"
        try await c.close()
        return sample
    }

    // MARK: W5

    private func notify(_ ctx: BenchContext) async throws -> Sample {
        guard mode == .connection else { throw NotAvailable(reason: "PostgresClient has no LISTEN; see the PostgresConnection row") }
        let n = Workload.w5.count(scale: ctx.scale)
        let listener = try await Self.openConnection(ctx.url, id: 1)
        let sender = try await Self.openConnection(ctx.url, id: 2)
        defer { Task { try? await listener.close(); try? await sender.close() } }
        var sample = try await listener.listen(on: Workload.notifyChannel) { notifications in
            var iterator = notifications.makeAsyncIterator()
            return try await measureNotifyRoundTrips(
                server: ctx.server, n: n,
                send: { i in _ = try await sender.query("SELECT pg_notify(\(Workload.notifyChannel), \(String(i)))", logger: Self.logger).collect() },
                receive: { try await iterator.next()?.payload })
        }
        sample.note = "pg_notify on a second connection, wait for delivery"
        try await listener.close(); try await sender.close()
        return sample
    }

    // MARK: W7

    private func connectLoop(_ ctx: BenchContext, url: String, tls: Bool) async throws -> Sample {
        let n = Workload.w7.count(scale: ctx.scale)
        let config = try Self.connectionConfiguration(url, tls: tls)
        for i in 0..<5 { try await PostgresConnection.connect(on: Self.group.next(), configuration: config, id: i, logger: Self.logger).close() }
        var sample = try await measureInProcess(server: ctx.server, operations: n) {
            for i in 0..<n {
                let c = try await PostgresConnection.connect(on: Self.group.next(), configuration: config, id: i, logger: Self.logger)
                try await c.close()
            }
        }
        sample.note = tls ? "TLS without certificate verification (sslmode=require)" : nil
        return sample
    }
}
