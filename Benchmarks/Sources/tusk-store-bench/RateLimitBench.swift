import ArgumentParser
import Foundation
import PGClient
import PGPoolCore
import PGRateLimiter
import PGStoreSupport
import Synchronization

/// `tusk-store-bench ratelimit`: PGRateLimiter next to pyrate-limiter's PostgreSQL bucket, rate-sync's
/// algorithm (our re-implementation) and pgbench running PGRateLimiter's own acquire statement.
struct RateLimitBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ratelimit",
        abstract: "PGRateLimiter vs pyrate-limiter (PostgresBucket), rate-sync's algorithm and pgbench running the same statement.",
        discussion: """
        Workloads (the limit, 1,000,000/s with a burst of 1,000,000, admits every acquire, so this measures decisions):
        \(RateWorkload.allCases.map { "  \($0.rawValue): \($0.title)" }.joined(separator: "\n"))
        Clients: tusk, pyrate, ratesync, pgbench.
        """)

    @Option(help: "Seconds of each measured window.")
    var seconds: Double = 5

    @Option(help: "Warm-up seconds before each window.")
    var warmup: Double = 1

    @Option(help: "Interleaved runs per workload and client.")
    var runs: Int = 3

    @Option(help: "Comma-separated workloads.")
    var workloads: String = RateWorkload.allCases.map(\.rawValue).joined(separator: ",")

    @Option(help: "Comma-separated clients.")
    var clients: String = RateClient.allCases.map(\.rawValue).joined(separator: ",")

    @Option(help: "PGRateLimiterStore pool size (pool_max_size; rate-sync's default is 10).")
    var poolSize: Int = 10

    @Option(help: "Where to write the results (default: Benchmarks/RESULTS-stores.md).")
    var output: String?

    @Flag(help: "Print the table only; do not write the results file.")
    var noWrite = false

    @Flag(help: "Skip the Python peers (no virtual environment).")
    var noPython = false

    func validate() throws {
        guard seconds > 0, warmup >= 0 else { throw ValidationError("--seconds must be positive and --warmup not negative") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard poolSize >= 1 else { throw ValidationError("--pool-size must be at least 1") }
    }

    func run() async throws {
        let started = Date()
        let loadAtStart = Machine.loadAverage()
        let selected = try RateWorkload.parse(workloads)
        let selectedClients = try RateClient.parse(clients)
        #if DEBUG
        say("warning: this is a debug build; measure with `swift run -c release ...`")
        #endif
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("tusk-store-bench-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        let environment = ProcessInfo.processInfo.environment
        say(environment["DATABASE_URL"].map { _ in "server: DATABASE_URL (external)" } ?? "server: starting a throwaway cluster (TemporaryPostgres + pg_stat_statements)…")
        let server = try await StoreServer.start(environment: environment)
        do {
            try await measure(server: server, work: work.path, workloads: selected, clients: selectedClients,
                              environment: environment, started: started, loadAtStart: loadAtStart)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    func measure(server: StoreServer, work: String, workloads selected: [RateWorkload], clients selectedClients: [RateClient],
                 environment: [String: String], started: Date, loadAtStart: String) async throws {
        var versions = ["Tusk PGRateLimiter (this checkout)"]
        let counter: StatementCounter?
        switch await StatementCounter.open(server.adminURL) {
        case .success(let c): counter = c
        case .failure(let e):
            counter = nil
            say("statements: \(e.reason); the statements column shows n/a")
        }
        defer { if let counter { Task { await counter.close() } } }
        let serverCPU = await server.serverCPU()
        if serverCPU == nil { say("server CPU: not readable from /proc (remote server?); shown as n/a") }

        // The peers' tools.
        let pgbench = selectedClients.contains(.pgbench) ? Machine.pgbenchPath(binDirectory: server.binDirectory) : nil
        if selectedClients.contains(.pgbench) {
            if let p = pgbench, let v = try? Subprocess.run(p, ["--version"], workDirectory: work), v.status == 0 {
                versions.append(v.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + " (libpq)")
            } else {
                say("pgbench: not found (install postgresql-client); its rows will show —")
            }
        }
        var python: String?
        if !noPython && (selectedClients.contains(.pyrate) || selectedClients.contains(.ratesync)) {
            let venv = TuskStoreBench.packageDirectory.appendingPathComponent(".build/venv").path
            if let env = PythonPeers.prepare(venv: venv) {
                python = env.python
                versions.append(env.version)
            }
        }

        // Tusk's store: one pool for the in-process workloads.
        var storeConfiguration = PGRateLimiterStore.Configuration(autoCreate: true)
        storeConfiguration.poolMaxSize = poolSize
        storeConfiguration.poolMinSize = min(storeConfiguration.poolMinSize, poolSize)
        let store = try PGRateLimiterStore(.url(server.url), configuration: storeConfiguration)
        try await store.start()
        defer { Task { await store.shutdown() } }

        // pgbench (and the PGPool row) run the statement PGRateLimiter sends: taken from pg_stat_activity after one acquire.
        var acquireSQL: Result<String, NotAvailable> = .failure(NotAvailable(reason: "needs pg_stat_activity through the admin connection"))
        if let counter {
            acquireSQL = await Self.captureAcquireStatement(store: store, counter: counter)
            if case .failure(let e) = acquireSQL { say("acquire statement: \(e.reason)") }
        }

        let ctx = RateContext(
            server: server, serverCPU: serverCPU, counter: counter, store: store, seconds: seconds, warmup: warmup,
            work: work, pgbench: pgbench, acquireSQL: acquireSQL, python: python,
            peersScript: TuskStoreBench.packageDirectory.appendingPathComponent("Scripts/ratelimit_peers.py").path,
            executable: Bundle.main.executablePath ?? CommandLine.arguments[0], poolSize: poolSize)
        let serverVersion = await server.version()
        say("PostgreSQL \(serverVersion); \(runs) runs of \(Self.format(seconds)) s (+\(Self.format(warmup)) s warm-up); clients: \(selectedClients.map(\.rawValue).joined(separator: ","))")

        var results = RateResults(workloads: selected)
        for w in selected {
            say("\n\(w.rawValue): \(w.title)")
            let rows = w.rows.filter { selectedClients.contains($0.client) }
            for run in 1...runs {
                for row in rows {
                    if results.isFinal(w, row) { continue }
                    let outcome: Result<Sample, any Error>
                    do { outcome = .success(try await row.run(w, ctx)) } catch { outcome = .failure(error) }
                    results.record(w, row, outcome)
                    switch outcome {
                    case .success(let s):
                        say("  run \(run) \(row.name): \(Self.format(s.opsPerSecond)) acquires/s, p50 \(s.p50.map(Self.format) ?? "n/a") µs, "
                            + "p99 \(s.p99.map(Self.format) ?? "n/a") µs, client \(s.clientMicrosPerOp.map(Self.format) ?? "n/a") µs, "
                            + "server \(s.serverMicrosPerOp.map(Self.format) ?? "n/a") µs, \(s.statementsPerOp.map { String(format: "%.2f", $0) } ?? "n/a") statements/acquire"
                            + (s.denied > 0 ? ", \(s.denied) not admitted" : ""))
                    case .failure(let e as NotAvailable):
                        say("  \(row.name): — (\(e.reason))")
                    case .failure(let e):
                        say("  run \(run) \(row.name): FAILED: \(String(reflecting: e))")
                    }
                }
            }
        }

        let table = results.table()
        let targets = results.targets()
        say("\n" + table + "\n\n" + targets)
        guard !noWrite else { return }
        let arguments = CommandLine.arguments.dropFirst().map { $0.contains(" ") ? "'\($0)'" : $0 }
        let command = (environment["DATABASE_URL"].map { _ in "DATABASE_URL=… " } ?? "")
            + "swift run -c release --package-path Benchmarks tusk-store-bench " + arguments.joined(separator: " ")
        let iso = ISO8601DateFormatter()
        var body = """
            Command: `\(command)`

            - Date: \(iso.string(from: started)) – \(iso.string(from: Date()))
            - Machine: \(Machine.description()); load average \(loadAtStart) at the start, \(Machine.loadAverage()) at the end
            - Server: PostgreSQL \(serverVersion) (\(server.mode)), TCP over loopback
            - Clients: \(versions.joined(separator: "; "))
            - \(runs) interleaved run\(runs == 1 ? "" : "s") per row, \(Self.format(seconds)) s each after \(Self.format(warmup)) s of warm-up; median and spread ((max − min) / median)
            - The limit is GCRA at 1,000,000/s with a burst of 1,000,000 (pyrate-limiter: `Rate(1_000_000, Duration.SECOND)`), so every acquire is admitted and the figures are decisions per second

            Workloads:

            """
        for w in selected { body += "- **\(w.rawValue)** — \(w.title)\n" }
        body += "\n" + table + "\n\n" + targets + "\n\n" + RateResults.howToRead
        let path = output ?? TuskStoreBench.packageDirectory.appendingPathComponent("RESULTS-stores.md").path
        try StoreResultsFile.write(section: "PGRateLimiter (`tusk-store-bench ratelimit`)", body: body, to: path)
        say("\nwritten to \(path)")
    }

    /// One acquire, then the statement's text from pg_stat_activity (the pool's session shows it as its last query).
    static func captureAcquireStatement(store: PGRateLimiterStore, counter: StatementCounter) async -> Result<String, NotAvailable> {
        do {
            let limiter = try store.limiter("capture", .perSecond(1_000_000, burst: 1_000_000))
            for _ in 0..<3 { _ = try await limiter.tryAcquire() }
            // The GCRA statement is the one that sets `tat` (the window statements and the cleanup do not).
            guard let sql = try await counter.lastStatement(containing: ["ON CONFLICT (group_id, key) DO UPDATE", " tat = "]) else {
                return .failure(NotAvailable(reason: "the acquire statement was not found in pg_stat_activity"))
            }
            guard sql.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("NOT EXISTS (SELECT 1 FROM decision)") else {
                return .failure(NotAvailable(reason: "the acquire statement is truncated in pg_stat_activity (raise track_activity_query_size)"))
            }
            return .success(sql)
        } catch {
            return .failure(NotAvailable(reason: "could not capture the acquire statement: \(error)"))
        }
    }

    static func format(_ x: Double) -> String { RateResults.format(x) }
}

/// Everything a client needs for one run.
struct RateContext: Sendable {
    let server: StoreServer
    let serverCPU: ServerCPU?
    let counter: StatementCounter?
    let store: PGRateLimiterStore
    let seconds: Double
    let warmup: Double
    let work: String
    let pgbench: String?
    let acquireSQL: Result<String, NotAvailable>
    let python: String?
    let peersScript: String
    let executable: String
    let poolSize: Int
}

enum RateWorkload: String, CaseIterable, Sendable {
    case hot = "hot-64"
    case hotProcesses = "hot-4x16"
    case keys = "keys-64"
    case single = "uncontended"

    var title: String {
        switch self {
        case .hot: "one hot key, 64 tasks in 1 process"
        case .hotProcesses: "one hot key, 4 processes × 16 tasks (total acquires/s)"
        case .keys: "10,000 keys, a random key per acquire, 64 tasks in 1 process"
        case .single: "1 task, sequential acquires on one key (uncontended latency)"
        }
    }

    /// 10,000 keys, or one.
    var keyCount: Int? { self == .keys ? 10_000 : nil }

    var rows: [RateRow] {
        switch self {
        case .hot: [.tusk, .tuskPool, .pyrate, .ratesync(pool: 10), .ratesync(pool: 64), .pgbench(connections: 8)]
        case .hotProcesses: [.tuskProcesses]
        case .keys: [.tusk, .pyrate, .pgbench(connections: 8)]
        case .single: [.tusk, .tuskPool, .pgbench(connections: 1)]
        }
    }

    static func parse(_ list: String) throws -> [RateWorkload] {
        try list.split(separator: ",").map { name in
            let n = name.trimmingCharacters(in: .whitespaces)
            guard let w = RateWorkload(rawValue: n) else {
                throw ValidationError("unknown workload \(n); known: \(allCases.map(\.rawValue).joined(separator: ","))")
            }
            return w
        }
    }
}

enum RateClient: String, CaseIterable, Sendable {
    case tusk, pyrate, ratesync, pgbench

    static func parse(_ list: String) throws -> [RateClient] {
        try list.split(separator: ",").map { name in
            let n = name.trimmingCharacters(in: .whitespaces).lowercased()
            guard let c = RateClient(rawValue: n) else {
                throw ValidationError("unknown client \(n); known: \(allCases.map(\.rawValue).joined(separator: ","))")
            }
            return c
        }
    }
}

/// A row of the table: a client in one configuration.
enum RateRow: Hashable, Sendable {
    case tusk, tuskProcesses, pyrate
    /// Diagnostic: the same statement through a PGPool, without the limiter's layer.
    case tuskPool
    /// rate-sync's algorithm with an asyncpg pool of at most `pool` connections (rate-sync's default: 10).
    case ratesync(pool: Int)
    case pgbench(connections: Int)

    var client: RateClient {
        switch self {
        case .tusk, .tuskProcesses, .tuskPool: .tusk
        case .pyrate: .pyrate
        case .ratesync: .ratesync
        case .pgbench: .pgbench
        }
    }

    var name: String {
        switch self {
        case .tusk: "Tusk PGRateLimiter"
        case .tuskProcesses: "Tusk PGRateLimiter (4 processes)"
        case .tuskPool: "Tusk PGPool running the acquire statement, no limiter layer (diagnostic)"
        case .pyrate: "pyrate-limiter PostgresBucket"
        case .ratesync(let pool): "rate-sync's algorithm (our re-implementation; rate-sync is not on PyPI here), "
            + (pool == 10 ? "pool 2–10 (its default)" : "pool 2–\(pool) (a connection per task)")
        case .pgbench(let c): "pgbench -c \(c), Tusk's acquire statement"
        }
    }

    func run(_ w: RateWorkload, _ ctx: RateContext) async throws -> Sample {
        switch self {
        case .tusk: try await TuskRateClient.inProcess(w, ctx)
        case .tuskPool: try await TuskRateClient.poolOnly(w, ctx)
        case .tuskProcesses: try await TuskRateClient.processes(w, ctx, processes: 4, tasksEach: 16)
        case .pyrate: try await PythonPeers.run("pyrate", w, ctx, poolSize: ctx.poolSize)
        case .ratesync(let pool): try await PythonPeers.run("ratesync", w, ctx, poolSize: pool)
        case .pgbench(let c): try await PgbenchRate.run(w, ctx, connections: c)
        }
    }
}

// MARK: Tusk

/// The warm-up / measure / stop switch the tasks read after every acquire.
final class Phase: Sendable {
    static let warmup = 0, measuring = 1, stopped = 2
    private let value = Atomic<Int>(Phase.warmup)
    var current: Int { value.load(ordering: .acquiring) }
    func set(_ v: Int) { value.store(v, ordering: .releasing) }
}

struct TaskTally: Sendable {
    var operations = 0
    var denied = 0
    var latencies: [Double] = []
}

enum TuskRateClient {
    /// The acquire loop of one task: counts the acquires that started and ended in the measured window.
    static func loop(_ limiter: PGRateLimiter, keys: Int?, seed: UInt64, phase: Phase) async throws -> TaskTally {
        try await loop(keys: keys, seed: seed, phase: phase) { key in
            let permit = try await limiter.acquire(key: key, timeout: .seconds(10))
            return !(permit.failedOpen || permit.shadow)
        }
    }

    static func loop(keys: Int?, seed: UInt64, phase: Phase, _ acquire: @Sendable (String) async throws -> Bool) async throws -> TaskTally {
        var tally = TaskTally()
        tally.latencies.reserveCapacity(1 << 14)
        var random = XorShift(seed: seed)
        while true {
            let before = phase.current
            if before == Phase.stopped { break }
            let key = keys.map { "k" + String(random.next() % UInt64($0)) } ?? ""
            let t0 = ContinuousClock.now
            let admitted = try await acquire(key)
            let elapsed = ContinuousClock.now - t0
            if before == Phase.measuring && phase.current == Phase.measuring {
                tally.operations += 1
                tally.latencies.append(elapsed.seconds * 1e6)
                if !admitted { tally.denied += 1 }
            }
        }
        return tally
    }

    static func limiterName(_ w: RateWorkload) -> String { "tusk-" + w.rawValue }

    static func inProcess(_ w: RateWorkload, _ ctx: RateContext) async throws -> Sample {
        let limiter = try ctx.store.limiter(limiterName(w), .perSecond(1_000_000, burst: 1_000_000))
        let tasks = w == .single ? 1 : 64
        var s = try await measure(w, ctx, tasks: tasks) { keys, seed, phase in
            try await TuskRateClient.loop(limiter, keys: keys, seed: seed, phase: phase)
        }
        s.note = "acquire(); \(tasks) task\(tasks == 1 ? "" : "s"), pool_max_size \(ctx.poolSize)"
        return s
    }

    /// The acquire statement on a PGPool of the same size and session settings as the store's, with the
    /// limiter's binds: what the limiter's own layer (deadline, metrics, span, permit) costs on top.
    static func poolOnly(_ w: RateWorkload, _ ctx: RateContext) async throws -> Sample {
        let sql: String
        switch ctx.acquireSQL {
        case .success(let s): sql = s
        case .failure(let e): throw e
        }
        var configuration = try PGConnectionConfiguration(url: ctx.server.url)
        configuration.extraStartupParameters["synchronous_commit"] = "off"
        let pool = PGPool(configuration: configuration,
                          options: .init(pool: PGPoolConfiguration(minimumConnections: min(2, ctx.poolSize), maximumConnections: ctx.poolSize)))
        await pool.start()
        let name = "pool-" + w.rawValue
        let tasks = w == .single ? 1 : 64
        // The limiter's binds: interval 1 µs, burst 1,000,000, cost 1 (and "at least 1" where the statement takes a sixth).
        let sixth = sql.contains("$6")
        do {
            var s = try await measure(w, ctx, tasks: tasks) { keys, seed, phase in
                try await TuskRateClient.loop(keys: keys, seed: seed, phase: phase) { key in
                    if sixth {
                        let row = try await pool.queryOptional(
                            PGQuery(unsafeSQL: sql, [name, key, Int64(1), Int64(1_000_000), Int64(1), Int64(1)]),
                            as: (Bool, Int64, Int64, Int64, Date?).self)
                        return row?.0 ?? false
                    }
                    let row = try await pool.queryOptional(PGQuery(unsafeSQL: sql, [name, key, Int64(1), Int64(1_000_000), Int64(1)]),
                                                           as: (Bool, Int64, Int64, Date?).self)
                    return row?.0 ?? false
                }
            }
            s.note = "pool.queryOptional(the statement); \(tasks) task\(tasks == 1 ? "" : "s"), \(ctx.poolSize) connections, synchronous_commit=off"
            await pool.shutdown()
            return s
        } catch {
            await pool.shutdown()
            throw error
        }
    }

    /// `tasks` tasks running `loop` through warm-up and the measured window.
    static func measure(_ w: RateWorkload, _ ctx: RateContext, tasks: Int,
                        _ loop: @escaping @Sendable (Int?, UInt64, Phase) async throws -> TaskTally) async throws -> Sample {
        let phase = Phase()
        let keys = w.keyCount
        return try await withThrowingTaskGroup(of: TaskTally.self, returning: Sample.self) { group in
            for t in 0..<tasks {
                group.addTask { try await loop(keys, UInt64(t + 1) &* 7919 &+ UInt64(getpid()), phase) }
            }
            try await Task.sleep(for: .seconds(ctx.warmup))
            try await ctx.counter?.reset()
            let server0 = ctx.serverCPU?.read()
            let cpu0 = CPU.selfSeconds
            let t0 = ContinuousClock.now
            phase.set(Phase.measuring)
            try await Task.sleep(for: .seconds(ctx.seconds))
            phase.set(Phase.stopped)
            let elapsed = ContinuousClock.now - t0
            let cpu = CPU.selfSeconds - cpu0
            let serverCPU = server0.flatMap { s0 in ctx.serverCPU?.read().map { $0 - s0 } }
            let statements = try await ctx.counter?.calls()
            var total = TaskTally()
            for try await t in group {
                total.operations += t.operations
                total.denied += t.denied
                total.latencies += t.latencies
            }
            guard total.operations > 0 else { throw BenchError("no acquire completed in the window") }
            total.latencies.sort()
            return Sample(operations: total.operations, seconds: elapsed.seconds, clientCPU: cpu, serverCPU: serverCPU,
                          p50: Stats.percentile(total.latencies, 50), p99: Stats.percentile(total.latencies, 99),
                          statements: statements, denied: total.denied)
        }
    }

    /// `processes` copies of this executable (`ratelimit-worker`), each with `tasksEach` tasks, start together
    /// at a wall-clock instant; the parent reads the server's CPU and pg_stat_statements around the window.
    static func processes(_ w: RateWorkload, _ ctx: RateContext, processes: Int, tasksEach: Int) async throws -> Sample {
        let lead = 3.0 + ctx.warmup
        let startAt = Date().timeIntervalSince1970 + lead
        var running: [(Process, String, String)] = []
        for i in 0..<processes {
            let out = ctx.work + "/worker-\(i).json", lat = ctx.work + "/worker-\(i).lat"
            _ = FileManager.default.createFile(atPath: out, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
            let p = Process()
            p.executableURL = URL(fileURLWithPath: ctx.executable)
            p.arguments = ["ratelimit-worker", "--url", ctx.server.url, "--limiter", limiterName(w), "--tasks", String(tasksEach),
                           "--start-at", String(startAt), "--seconds", String(ctx.seconds), "--latencies", lat,
                           "--pool-size", String(ctx.poolSize), "--seed", String(i + 1)]
            p.standardOutput = handle
            p.standardError = FileHandle.standardError
            p.standardInput = FileHandle.nullDevice
            try p.run()
            try? handle.close()
            running.append((p, out, lat))
        }
        try await Task.sleep(for: .seconds(max(0, startAt - Date().timeIntervalSince1970)))
        try await ctx.counter?.reset()
        let server0 = ctx.serverCPU?.read()
        try await Task.sleep(for: .seconds(max(0, startAt + ctx.seconds - Date().timeIntervalSince1970)))
        let serverCPU = server0.flatMap { s0 in ctx.serverCPU?.read().map { $0 - s0 } }
        let statements = try await ctx.counter?.calls()
        var operations = 0, denied = 0, cpu = 0.0
        var latencies: [Double] = []
        var failures: [String] = []
        for (p, out, lat) in running {
            while p.isRunning { try await Task.sleep(for: .milliseconds(20)) }
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            guard p.terminationStatus == 0, let line = text.split(separator: "\n").last,
                  let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let ops = o["operations"] as? Int, let c = o["cpu"] as? Double
            else {
                failures.append("worker exited \(p.terminationStatus): \(text.suffix(300))")
                continue
            }
            if let late = o["late"] as? Double, late > 0.05 { failures.append(String(format: "a worker started %.2f s late", late)) }
            operations += ops
            denied += o["denied"] as? Int ?? 0
            cpu += c
            if let l = try? String(contentsOfFile: lat, encoding: .utf8) {
                latencies += l.split(separator: "\n").compactMap { Double($0) }
            }
        }
        guard failures.isEmpty else { throw BenchError(failures.joined(separator: "; ")) }
        guard operations > 0 else { throw BenchError("no acquire completed in the window") }
        latencies.sort()
        var s = Sample(operations: operations, seconds: ctx.seconds, clientCPU: cpu, serverCPU: serverCPU,
                       p50: Stats.percentile(latencies, 50), p99: Stats.percentile(latencies, 99), statements: statements, denied: denied)
        s.note = "acquire(); \(processes) processes × \(tasksEach) tasks, pool_max_size \(ctx.poolSize) each; client CPU is the workers' own over the window"
        return s
    }
}

/// `tusk-store-bench ratelimit-worker` (hidden): one of the processes of the hot-4x16 workload.
struct RateLimitWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ratelimit-worker", shouldDisplay: false)

    @Option var url: String
    @Option var limiter: String
    @Option var tasks: Int = 16
    @Option var startAt: Double
    @Option var seconds: Double
    @Option var latencies: String
    @Option var poolSize: Int = 10
    @Option var seed: Int = 1

    func run() async throws {
        var configuration = PGRateLimiterStore.Configuration(autoCreate: true)
        configuration.poolMaxSize = poolSize
        configuration.poolMinSize = min(configuration.poolMinSize, poolSize)
        let store = try PGRateLimiterStore(.url(url), configuration: configuration)
        try await store.start()
        let l = try store.limiter(limiter, .perSecond(1_000_000, burst: 1_000_000))
        let phase = Phase()
        let seed = UInt64(self.seed)
        let (tally, cpu, late) = try await withThrowingTaskGroup(of: TaskTally.self, returning: (TaskTally, Double, Double).self) { group in
            for t in 0..<tasks {
                group.addTask { try await TuskRateClient.loop(l, keys: nil, seed: seed &* 1_000 &+ UInt64(t), phase: phase) }
            }
            let late = Date().timeIntervalSince1970 - startAt
            if late < 0 { try await Task.sleep(for: .seconds(-late)) }
            let cpu0 = CPU.selfSeconds
            phase.set(Phase.measuring)
            try await Task.sleep(for: .seconds(max(0, startAt + seconds - Date().timeIntervalSince1970)))
            phase.set(Phase.stopped)
            let cpu = CPU.selfSeconds - cpu0
            var total = TaskTally()
            for try await t in group {
                total.operations += t.operations
                total.denied += t.denied
                total.latencies += t.latencies
            }
            return (total, cpu, late)
        }
        await store.shutdown()
        try tally.latencies.map { String(format: "%.1f", $0) }.joined(separator: "\n").write(toFile: latencies, atomically: true, encoding: .utf8)
        print("{\"operations\": \(tally.operations), \"denied\": \(tally.denied), \"cpu\": \(cpu), \"late\": \(late)}")
    }
}

// MARK: pgbench

/// pgbench running PGRateLimiter's own GCRA statement (as captured from pg_stat_activity), `-M prepared`, its
/// sessions with `synchronous_commit = off` as the store's own sessions have. Latency percentiles come from
/// its per-transaction log (`-l`).
enum PgbenchRate {
    static func script(_ sql: String, keys: Int?) -> String {
        var s = sql.trimmingCharacters(in: .whitespacesAndNewlines)
        // $1 limiter, $2 key, $3 interval (µs), $4 burst, $5 cost (units wanted), and, where the statement has it, $6
        // (at least this many units); $3–$6 carry ::int8 casts in the statement.
        s = s.replacingOccurrences(of: "$1", with: ":gid::text")
        s = s.replacingOccurrences(of: "$2", with: keys != nil ? "('k' || :k::text)" : ":key::text")
        s = s.replacingOccurrences(of: "$3", with: ":interval")
        s = s.replacingOccurrences(of: "$4", with: ":burst")
        s = s.replacingOccurrences(of: "$5", with: ":cost")
        s = s.replacingOccurrences(of: "$6", with: ":atleast")
        let set = keys.map { "\\set k random(0, \($0 - 1))\n" } ?? ""
        return set + s + ";\n"
    }

    /// Runs pgbench with an empty signal mask. Foundation's `Process` hands its child the parent's blocked
    /// signals, SIGALRM among them, and pgbench's `-T` is a SIGALRM: without this it never stops.
    static func pgbench(_ pgbench: String, _ arguments: [String], dir: String, environment: [String: String]) throws -> Subprocess {
        guard let perl = Machine.findExecutable("perl") else {
            throw NotAvailable(reason: "perl not found (needed to start pgbench -T with SIGALRM unblocked)")
        }
        let unblock = "use POSIX; sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die \"sigprocmask: $!\"; exec { $ARGV[0] } @ARGV or die \"exec: $!\""
        return try Subprocess.run(perl, ["-e", unblock, pgbench] + arguments, workDirectory: dir, environment: environment)
    }

    static func run(_ w: RateWorkload, _ ctx: RateContext, connections: Int) async throws -> Sample {
        guard let pgbench = ctx.pgbench else { throw NotAvailable(reason: "pgbench not found") }
        let sql: String
        switch ctx.acquireSQL {
        case .success(let s): sql = s
        case .failure(let e): throw e
        }
        let dir = ctx.work + "/pgbench-\(w.rawValue)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/acquire.sql"
        try script(sql, keys: w.keyCount).write(toFile: file, atomically: true, encoding: .utf8)
        let seconds = max(1, Int(ctx.seconds.rounded()))
        let threads = min(connections, 2)
        let gid = "pgbench-" + w.rawValue
        let common = ["-n", "-M", "prepared", "-c", String(connections), "-j", String(threads),
                      "-D", "gid=\(gid)", "-D", "key=hot", "-D", "interval=1", "-D", "burst=1000000", "-D", "cost=1", "-D", "atleast=1", "-f", file]
        var environment = ProcessInfo.processInfo.environment
        environment["PGOPTIONS"] = "-c synchronous_commit=off"
        // Warm-up (not measured): connections, plans, the rows.
        if ctx.warmup > 0 {
            let warm = try Self.pgbench(pgbench, common + ["-T", String(max(1, Int(ctx.warmup.rounded()))), ctx.server.url],
                                        dir: dir, environment: environment)
            guard warm.status == 0 else { throw BenchError("pgbench failed (\(warm.status)): \(warm.stderr.suffix(500))") }
            await ctx.serverCPU?.settle()
        }
        try await ctx.counter?.reset()
        let server0 = ctx.serverCPU?.read()
        let cpu0 = CPU.childrenSeconds
        let result = try Self.pgbench(pgbench, common + ["-T", String(seconds), "-l", "--log-prefix=\(dir)/log", ctx.server.url],
                                      dir: dir, environment: environment)
        let cpu = CPU.childrenSeconds - cpu0
        await ctx.serverCPU?.settle()
        let serverCPU = server0.flatMap { s0 in ctx.serverCPU?.read().map { $0 - s0 } }
        let statements = try await ctx.counter?.calls()
        guard result.status == 0 else { throw BenchError("pgbench failed (\(result.status)): \(result.stderr.suffix(500))") }
        let lines = result.stdout.split(separator: "\n")
        guard let processedLine = lines.first(where: { $0.hasPrefix("number of transactions actually processed: ") }),
              let transactions = Int(processedLine.split(separator: " ").last?.split(separator: "/").first ?? ""),
              let tpsLine = lines.first(where: { $0.hasPrefix("tps = ") }),
              let tps = Double(tpsLine.dropFirst(6).split(separator: " ").first ?? ""), tps > 0
        else { throw BenchError("unexpected pgbench output: \(result.stdout.prefix(500))") }
        if let failed = lines.first(where: { $0.hasPrefix("number of failed transactions: ") }),
           !failed.hasPrefix("number of failed transactions: 0 ") {
            throw BenchError("pgbench: \(failed)")
        }
        // Per-transaction log: client_id transaction_no time(µs) script_no time_epoch time_us.
        var latencies: [Double] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasPrefix("log") {
            guard let text = try? String(contentsOfFile: dir + "/" + name, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count > 2, let us = Double(f[2]) { latencies.append(us) }
            }
        }
        latencies.sort()
        var s = Sample(operations: transactions, seconds: Double(transactions) / tps, clientCPU: cpu, serverCPU: serverCPU,
                       p50: latencies.isEmpty ? nil : Stats.percentile(latencies, 50),
                       p99: latencies.isEmpty ? nil : Stats.percentile(latencies, 99), statements: statements)
        s.note = "-M prepared -c \(connections) -j \(threads) -T \(seconds), synchronous_commit=off (as the store's sessions); client CPU includes pgbench's start-up"
        return s
    }
}

// MARK: Python peers

/// pyrate-limiter (PostgresBucket, psycopg) and rate-sync's algorithm (asyncpg), through Scripts/ratelimit_peers.py
/// in Benchmarks/.build/venv. The script times its own window and reads pg_stat_statements around it.
enum PythonPeers {
    static let packages = ["asyncpg", "pyrate-limiter", "psycopg[binary]", "psycopg-pool"]

    static func run(_ peer: String, _ w: RateWorkload, _ ctx: RateContext, poolSize: Int) async throws -> Sample {
        guard let python = ctx.python else { throw NotAvailable(reason: "Python peers not installed") }
        var args = [ctx.peersScript, "--peer", peer, "--workload", w == .keys ? "keys" : "hot", "--url", ctx.server.url,
                    "--seconds", String(ctx.seconds), "--warmup", String(ctx.warmup), "--concurrency", "64",
                    "--pool-size", String(poolSize)]
        if ctx.counter != nil { args += ["--admin-url", ctx.server.adminURL] }
        if let pid = ctx.serverCPU?.postmasterPID { args += ["--postmaster-pid", String(pid)] }
        let result = try Subprocess.run(python, args, workDirectory: ctx.work)
        guard result.status == 0 else { throw BenchError("\(peer) script failed (\(result.status)): \(result.stderr.suffix(800))") }
        guard let line = result.stdout.split(separator: "\n").last,
              let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { throw BenchError("unexpected \(peer) script output: \(result.stdout.prefix(500))") }
        if let reason = o["unavailable"] as? String { throw NotAvailable(reason: reason) }
        guard let ops = o["operations"] as? Int, let seconds = o["seconds"] as? Double, seconds > 0 else {
            throw BenchError("incomplete \(peer) script output: \(line)")
        }
        var s = Sample(operations: ops, seconds: seconds, clientCPU: o["cpu"] as? Double, serverCPU: o["server_cpu"] as? Double,
                       p50: o["p50"] as? Double, p99: o["p99"] as? Double, statements: o["statements"] as? Int,
                       denied: o["denied"] as? Int ?? 0)
        s.note = o["note"] as? String
        if ops == 0, let statements = s.statements {
            s.note = (s.note.map { $0 + "; " } ?? "") + "no acquire completed in the window (\(statements) statements ran)"
        }
        return s
    }

    /// Makes sure `venv` has the peers' packages; returns its python and their versions, or nil with the reason printed.
    static func prepare(venv: String) -> (python: String, version: String)? {
        let python = venv + "/bin/python"
        let fm = FileManager.default
        let work = NSTemporaryDirectory()
        if !fm.isExecutableFile(atPath: python) {
            guard let python3 = Machine.findExecutable("python3") else {
                say("python peers: skipped (python3 not found; install python3 python3-venv)")
                return nil
            }
            say("python peers: creating a virtual environment in \(venv)")
            let made = try? Subprocess.run(python3, ["-m", "venv", venv], workDirectory: work)
            guard made?.status == 0, fm.isExecutableFile(atPath: python) else {
                try? fm.removeItem(atPath: venv)
                say("python peers: skipped (python3 -m venv failed; install python3-venv)")
                return nil
            }
        }
        let probe = try? Subprocess.run(python, ["-c", "import asyncpg, pyrate_limiter, psycopg, psycopg_pool"], workDirectory: work)
        if probe?.status != 0 {
            say("python peers: pip install \(packages.joined(separator: " ")) into \(venv)")
            let pip = try? Subprocess.run(python, ["-m", "pip", "install", "--quiet"] + packages, workDirectory: work)
            guard pip?.status == 0 else {
                say("python peers: skipped (pip install failed): \(pip?.stderr.suffix(300) ?? "")")
                return nil
            }
        }
        let code = """
            import sys
            from importlib.metadata import version as v
            print(f"pyrate-limiter {v('pyrate-limiter')} (psycopg {v('psycopg')}, psycopg-pool {v('psycopg-pool')}); asyncpg {v('asyncpg')}; Python {sys.version.split()[0]}")
            """
        let version = try? Subprocess.run(python, ["-c", code], workDirectory: work)
        let text = version?.status == 0 ? version?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? "" : ""
        return (python, text.isEmpty ? "pyrate-limiter, asyncpg" : text)
    }
}

// MARK: Results

struct RateResults {
    enum Outcome {
        case samples([Sample])
        case unavailable(String)
        case failed(String)
    }

    var workloads: [RateWorkload]
    var outcomes: [RateWorkload: [(RateRow, Outcome)]] = [:]

    init(workloads: [RateWorkload]) { self.workloads = workloads }

    func outcome(_ w: RateWorkload, _ row: RateRow) -> Outcome? {
        outcomes[w]?.first { $0.0 == row }?.1
    }

    func isFinal(_ w: RateWorkload, _ row: RateRow) -> Bool {
        switch outcome(w, row) {
        case .unavailable?, .failed?: true
        default: false
        }
    }

    mutating func record(_ w: RateWorkload, _ row: RateRow, _ result: Result<Sample, any Error>) {
        var list = outcomes[w] ?? []
        let index = list.firstIndex { $0.0 == row }
        let existing: Outcome? = index.map { list[$0].1 }
        let new: Outcome
        switch (existing, result) {
        case (.failed?, _), (.unavailable?, _): return
        case (.samples(let xs)?, .success(let s)): new = .samples(xs + [s])
        case (nil, .success(let s)): new = .samples([s])
        case (_, .failure(let e as NotAvailable)): new = .unavailable(e.reason)
        case (_, .failure(let e)): new = .failed(String(reflecting: e))
        }
        if let index { list[index].1 = new } else { list.append((row, new)) }
        outcomes[w] = list
    }

    func samples(_ w: RateWorkload, _ row: RateRow) -> [Sample]? {
        if case .samples(let xs)? = outcome(w, row) { return xs }
        return nil
    }

    func medianRate(_ w: RateWorkload, _ row: RateRow) -> Double? {
        samples(w, row).map { Stats.median($0.map(\.opsPerSecond)) }
    }

    func table() -> String {
        var lines = [
            "| Workload | Client | Acquires/s, median (spread) | × Tusk | p50 µs | p99 µs | Client CPU µs/acquire | Server CPU µs/acquire | Statements/acquire | Notes |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for w in workloads {
            let baseline = medianRate(w, .tusk) ?? medianRate(w, .tuskProcesses)
            for (row, outcome) in outcomes[w] ?? [] {
                switch outcome {
                case .unavailable(let reason):
                    lines.append("| \(w.rawValue) | \(row.name) | — | — | — | — | — | — | — | \(reason) |")
                case .failed(let error):
                    let oneLine = error.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "|", with: "/")
                    lines.append("| \(w.rawValue) | \(row.name) | failed | — | — | — | — | — | — | \(oneLine.prefix(300)) |")
                case .samples(let xs):
                    let rate = Stats.median(xs.map(\.opsPerSecond))
                    var throughput = "\(Self.format(rate)) (±\(String(format: "%.0f", Stats.spread(xs.map(\.opsPerSecond))))%)"
                    if xs.count < 2 { throughput += " (1 run)" }
                    let ratio = baseline.map { String(format: "%.2f×", rate / $0) } ?? "—"
                    func median(_ f: (Sample) -> Double?) -> String {
                        let v = xs.compactMap(f)
                        return v.count == xs.count ? Self.format(Stats.median(v)) : "n/a"
                    }
                    let statements = xs.compactMap(\.statementsPerOp)
                    let statementsText = statements.count == xs.count ? String(format: "%.2f", Stats.median(statements)) : "n/a"
                    let denied = xs.map(\.denied).reduce(0, +)
                    var note = xs.compactMap(\.note).first ?? ""
                    if denied > 0 { note += (note.isEmpty ? "" : "; ") + "\(denied) acquires not admitted in all runs" }
                    lines.append("| \(w.rawValue) | \(row.name) | \(throughput) | \(ratio) | \(median(\.p50)) | \(median(\.p99)) | "
                                 + "\(median(\.clientMicrosPerOp)) | \(median(\.serverMicrosPerOp)) | \(statementsText) | \(note) |")
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Issue 17's targets, checked against this run's medians.
    func targets() -> String {
        var lines = ["Issue 17's targets, from this run's medians:", ""]
        func check(_ ok: Bool?, _ text: String) {
            lines.append("- " + (ok == nil ? "n/a" : ok! ? "met" : "NOT met") + " — " + text)
        }
        let hot = medianRate(.hot, .tusk)
        let f = { (x: Double?) in x.map(Self.format) ?? "n/a" }
        let rateSync = [medianRate(.hot, .ratesync(pool: 10)), medianRate(.hot, .ratesync(pool: 64))].compactMap { $0 }.max()
        for (peer, label) in [(medianRate(.hot, .pyrate), "pyrate-limiter"), (rateSync, "rate-sync's algorithm (its better row)")] {
            let ratio = hot.flatMap { h in peer.map { h / $0 } }
            check(ratio.map { $0 >= 10 }, "≥ 10× \(label) on the hot key: \(f(hot)) vs \(f(peer)) acquires/s = \(ratio.map { String(format: "%.1f×", $0) } ?? "n/a")")
        }
        check(hot.map { $0 >= 10_000 }, "≥ 10,000 acquires/s on the hot key (64 tasks, 1 process): \(f(hot))")
        let procs = medianRate(.hotProcesses, .tuskProcesses)
        if procs != nil { lines.append("  (4 processes × 16 tasks: \(f(procs)) acquires/s)") }
        let limit = medianRate(.hot, .pgbench(connections: 8))
        let ratio = hot.flatMap { h in limit.map { h / $0 } }
        check(ratio.map { $0 >= 0.7 }, "≥ 0.7× pgbench -c 8 running the same statement on the hot key: \(f(hot)) vs \(f(limit)) = \(ratio.map { String(format: "%.2f×", $0) } ?? "n/a")")
        let keys = medianRate(.keys, .tusk), keysLimit = medianRate(.keys, .pgbench(connections: 8))
        if let keys, let keysLimit {
            lines.append("  (10,000 keys: \(f(keys)) vs pgbench \(f(keysLimit)) = \(String(format: "%.2f×", keys / keysLimit)))")
        }
        let single = samples(.single, .tusk)
        let statements = single.map { xs in Stats.median(xs.compactMap(\.statementsPerOp)) }
        check(statements.flatMap { $0.isFinite ? $0 < 1.05 : nil },
              "one statement per uncontended acquire: \(statements.map { String(format: "%.3f", $0) } ?? "n/a") (pg_stat_statements calls / acquires)")
        let p50 = single.map { xs in Stats.median(xs.compactMap(\.p50)) }
        check(p50.flatMap { $0.isFinite ? $0 < 150 : nil }, "p50 < 150 µs uncontended: \(f(p50)) µs")
        return lines.joined(separator: "\n")
    }

    static let howToRead = """
        How to read it: acquires/s counts acquires that started and finished in the measured window (wall clock);
        × Tusk divides by the Tusk row of the same workload. p50/p99 is the latency of one acquire as its caller sees
        it (pgbench: its per-transaction log). Client CPU is user + system time per acquire (Tusk and the Python peers:
        getrusage of their own process over the window; the 4-process row: the workers' own, summed; pgbench:
        RUSAGE_CHILDREN, start-up included). Server CPU is the postmaster's process tree from /proc over the window.
        Statements/acquire is pg_stat_statements' calls in the window (every statement of the database, BEGIN/COMMIT
        and pool reset queries included) divided by the acquires. The limit never binds here, so no acquire is
        refused by the limit; "not admitted" notes count acquires refused for other reasons (pyrate-limiter's
        `LOCK TABLE … NOWAIT` failing under contention). Peers: pyrate-limiter's `Limiter` holds a process-wide
        lock around each acquire, so its 64 threads take turns; its "10,000 keys" row uses item names as keys in
        one bucket (one table, one limit for all keys — a limit per key would need a bucket, i.e. a table, per key).
        rate-sync's algorithm is `_acquire_token_bucket` of rate-sync's `PostgresRateLimiter` as its code has it
        (SELECT … FOR UPDATE in autocommit, then `UPDATE … WHERE version = $4`, 1 ms sleep and retry when the version
        moved, `time.time()` as the clock, asyncpg pool 2–10), re-implemented in Scripts/ratelimit_peers.py because
        rate-sync is not on PyPI here; it has no per-key limits, so it runs the hot key only. With its default pool
        (2–10 connections) and 64 tasks it all but stops: a task reads `time.time()` before it waits for a pool
        connection, so by the time it reads the row another task has often stored a later time; `elapsed` comes out
        below −timing_margin_ms, the rate check fails, and the task sleeps (≥ 10 ms, as long as it was kept waiting)
        while still holding its connection, which makes the next tasks wait longer still. With a connection per
        task it runs, at about a hundred statements per admitted acquire (version conflicts and asyncpg's pool
        reset on every release). The "Tusk PGPool" row runs the captured acquire statement on a bare PGPool (same
        size, synchronous_commit = off) once per acquire, as pgbench does; PGRateLimiter decides the requests for one
        key in one process that arrive while a decision for it is in flight together, in the next statement, so on a
        hot key its statements per acquire fall well below 1 (uncontended, or over 10,000 keys, it stays at 1).
        """

    static func format(_ x: Double) -> String {
        guard x.isFinite else { return "n/a" }
        if x >= 99.95 { return String(format: "%.0f", x) }
        if x >= 9.995 { return String(format: "%.1f", x) }
        return String(format: "%.2f", x)
    }
}
