import Foundation

/// libpq, through pgbench with custom scripts of the same statements (`-M prepared`, `-n`).
/// CPU is the pgbench process's (RUSAGE_CHILDREN), which includes its start-up and connecting;
/// throughput is pgbench's own tps ("without initial connection time") times statements per
/// transaction. pgbench checks for errors only, not the values returned.
struct PgbenchClient: BenchClient {
    var key: String { "pgbench" }
    var name: String { "libpq (pgbench)" }

    func run(_ workload: Workload, _ ctx: BenchContext) async throws -> Sample {
        guard let pgbench = ctx.pgbenchPath else { throw NotAvailable(reason: "pgbench not found") }
        let addOne = "\\set v random(0, 65535)\nSELECT :v::int4 + 1;\n"
        switch workload {
        case .w1:
            let n = Workload.w1.count(scale: ctx.scale)
            var s = try await bench(pgbench, ctx, script: addOne, args: ["-c", "1", "-j", "1", "-t", String(n)], perTransaction: 1)
            s.note = "-M prepared -c 1"
            return s
        case .w2:
            let n = Workload.w2.count(scale: ctx.scale)
            var s = try await bench(pgbench, ctx, script: addOne, args: ["-c", "8", "-j", "2", "-t", String(max(1, n / 8))], perTransaction: 1)
            s.note = "-M prepared -c 8 -j 2 (one query in flight per connection)"
            return s
        case .w3:
            let n = Workload.w3.count(scale: ctx.scale)
            let script = "SELECT i, i::text, i * 1.5::float8, now() FROM generate_series(1, :n::int4) i;\n"
            var s = try await bench(pgbench, ctx, script: script, args: ["-c", "1", "-j", "1", "-t", "1", "-D", "n=\(n)"], perTransaction: n)
            s.note = "libpq receives all rows as text into a PGresult; no conversion to native values"
            return s
        case .w6:
            let n = Workload.w6.count(scale: ctx.scale)
            let depth = 64
            let script = "\\set v random(0, 65535)\n\\startpipeline\n"
                + String(repeating: "SELECT :v::int4 + 1;\n", count: depth) + "\\endpipeline\n"
            var s = try await bench(pgbench, ctx, script: script, args: ["-c", "1", "-j", "1", "-t", String(max(1, n / depth))], perTransaction: depth)
            s.note = "\\startpipeline, batches of \(depth) then \\endpipeline: one Sync per \(depth) queries (Tusk sends one per query), -c 1"
            return s
        case .w7:
            let n = Workload.w7.count(scale: ctx.scale)
            var s = try await bench(pgbench, ctx, script: "\\set v 1\n", args: ["-C", "-c", "1", "-j", "1", "-t", String(n)], perTransaction: 1, url: ctx.scramURL, wallClock: true)
            s.note = "-C with a script of no SQL (connect, auth, close)"
            return s
        case .w7tls:
            guard let url = ctx.tlsURL else { throw NotAvailable(reason: "server has no TLS") }
            let n = Workload.w7.count(scale: ctx.scale)
            var s = try await bench(pgbench, ctx, script: "\\set v 1\n", args: ["-C", "-c", "1", "-j", "1", "-t", String(n)], perTransaction: 1, url: url, wallClock: true)
            s.note = "-C, sslmode=require"
            return s
        case .w1p, .w1p0:
            guard let url = ctx.poolerURL else { throw NotAvailable(reason: "no PgBouncer") }
            let n = Workload.w1.count(scale: ctx.scale)
            // -M prepared is not safe behind a transaction-mode pooler (its statements stay on one server session).
            let mode = workload == .w1p ? "extended" : "simple"
            var s = try await bench(pgbench, ctx, script: addOne, args: ["-c", "1", "-j", "1", "-t", String(n)], perTransaction: 1,
                                    url: url, protocolMode: mode)
            s.note = "-M \(mode) -c 1"
            return s
        case .w4: throw NotAvailable(reason: "pgbench cannot send COPY FROM STDIN")
        case .w5: throw NotAvailable(reason: "pgbench cannot wait for notifications")
        }
    }

    private func bench(_ pgbench: String, _ ctx: BenchContext, script: String, args: [String], perTransaction: Int,
                       url: String? = nil, wallClock: Bool = false, protocolMode: String = "prepared") async throws -> Sample {
        let file = URL(fileURLWithPath: ctx.workDirectory).appendingPathComponent("pgbench-\(getpid()).sql")
        try script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let arguments = ["-n", "-M", protocolMode] + args + ["-f", file.path, url ?? ctx.url]
        let server0 = ctx.server?.read()
        let cpu0 = CPU.childrenSeconds
        let t0 = ContinuousClock.now
        let result = try Subprocess.run(pgbench, arguments, workDirectory: ctx.workDirectory)
        let elapsed = ContinuousClock.now - t0
        let cpu = CPU.childrenSeconds - cpu0
        await ctx.server?.settle()  // pgbench's backends exit after it; count their CPU
        let serverCPU = server0.flatMap { s0 in ctx.server?.read().map { $0 - s0 } }
        guard result.status == 0 else {
            throw BenchError("pgbench failed (\(result.status)): \(result.stderr.suffix(500))")
        }
        let lines = result.stdout.split(separator: "\n")
        guard let processedLine = lines.first(where: { $0.hasPrefix("number of transactions actually processed: ") }),
              let transactions = Int(processedLine.split(separator: " ").last?.split(separator: "/").first ?? "")
        else { throw BenchError("unexpected pgbench output: \(result.stdout.prefix(500))") }
        let failedLine = lines.first { $0.hasPrefix("number of failed transactions: ") }
        if let failedLine, !failedLine.hasPrefix("number of failed transactions: 0 ") {
            throw BenchError("pgbench: \(failedLine)")
        }
        let operations = transactions * perTransaction
        let seconds: Double
        if wallClock {
            seconds = elapsed.seconds
        } else {
            guard let tpsLine = lines.first(where: { $0.hasPrefix("tps = ") }),
                  let tps = Double(tpsLine.dropFirst(6).split(separator: " ").first ?? ""), tps > 0
            else { throw BenchError("no tps in pgbench output: \(result.stdout.prefix(500))") }
            seconds = Double(transactions) / tps
        }
        return Sample(operations: operations, seconds: seconds, clientCPU: cpu, serverCPU: serverCPU)
    }
}
