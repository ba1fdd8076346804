import ArgumentParser
import Foundation
import PGClient
import PGTestSupport

@main
struct TuskBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tusk-bench",
        abstract: "Tusk side by side with PostgresNIO, libpq (pgbench) and asyncpg on the same server.",
        discussion: """
        Uses DATABASE_URL when set; otherwise starts a throwaway server (TemporaryPostgres) and stops it
        at the end. Prints one table and writes it to Benchmarks/RESULTS.md.
        Workloads: \(Workload.allCases.map(\.rawValue).joined(separator: ", ")).
        Clients: tusk, tusk-loop, nio-client, nio-conn, pgbench, asyncpg.
        """)

    @Option(help: "Multiply every workload's size by this (e.g. 0.1 for a quick run).")
    var scale: Double = 1

    @Option(help: "Comma-separated workloads to run.")
    var workloads: String = Workload.allCases.map(\.rawValue).joined(separator: ",")

    @Option(help: "Comma-separated clients to run.")
    var clients: String = TuskBench.allClients.map(\.key).joined(separator: ",")

    @Option(help: "Interleaved runs per workload and client.")
    var runs: Int = 3

    @Option(help: "Where to write the results (default: Benchmarks/RESULTS.md next to this package).")
    var output: String?

    @Flag(help: "Print the table only; do not write the results file.")
    var noWrite = false

    @Flag(help: "Skip setting up the Python virtual environment (and so asyncpg).")
    var noPython = false

    static let allClients: [any BenchClient] = [
        TuskClient(onLoop: false), TuskClient(onLoop: true),
        NIOClient(mode: .client), NIOClient(mode: .connection),
        PgbenchClient(), AsyncpgClient(),
    ]

    /// Benchmarks/ (this file is Benchmarks/Sources/tusk-bench/TuskBench.swift).
    static let packageDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func validate() throws {
        guard scale > 0, scale.isFinite else { throw ValidationError("--scale must be positive") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    func run() async throws {
        let started = Date()
        let loadAtStart = Environment.loadAverage()
        let selectedWorkloads = try Workload.parseList(workloads)
        let keys = clients.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        for key in keys where !Self.allClients.contains(where: { $0.key == key }) {
            throw ValidationError("unknown client \(key); known: \(Self.allClients.map(\.key).joined(separator: ","))")
        }
        let selectedClients = Self.allClients.filter { keys.contains($0.key) }
        #if DEBUG
        say("warning: this is a debug build; measure with `swift run -c release ...`")
        #endif

        let work = FileManager.default.temporaryDirectory.appendingPathComponent("tusk-bench-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        // The server.
        let environment = ProcessInfo.processInfo.environment
        let server: BenchServer
        if let url = environment["DATABASE_URL"], !url.isEmpty {
            server = BenchServer(external: url)
            say("server: DATABASE_URL (external)")
        } else {
            say("server: starting a throwaway cluster (TemporaryPostgres)…")
            server = try await BenchServer.embedded(work: work.path)
        }
        do {
            try await measure(server: server, work: work, keys: keys, workloads: selectedWorkloads,
                              clients: selectedClients, environment: environment, started: started, loadAtStart: loadAtStart)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    func measure(server: BenchServer, work: URL, keys: [String], workloads selectedWorkloads: [Workload],
                 clients selectedClients: [any BenchClient], environment: [String: String], started: Date,
                 loadAtStart: String) async throws {

        // What to compare with.
        var clientVersions = ["Tusk (this checkout)", "PostgresNIO \(Self.resolvedVersion("postgres-nio") ?? "1.33.x") on SwiftNIO \(Self.resolvedVersion("swift-nio") ?? "")"]
        let pgbenchPath = Self.pgbenchPath(binDirectory: server.binDirectory)
        if keys.contains("pgbench") {
            if let p = pgbenchPath, let v = try? Subprocess.run(p, ["--version"], workDirectory: work.path), v.status == 0 {
                clientVersions.append(v.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + " (libpq)")
            } else {
                say("pgbench: not found (install postgresql-client or put pgbench on PATH); its rows will show —")
            }
        }
        var python: String?
        if keys.contains("asyncpg") && !noPython {
            let venv = Self.packageDirectory.appendingPathComponent(".build/venv").path
            if let env = AsyncpgClient.prepareEnvironment(venv: venv) {
                python = env.python
                clientVersions.append(env.version)
            }
        }

        // An external server may not offer TLS: ask once, so that W7-TLS says so instead of failing.
        var tlsURL = server.tlsURL
        if let url = tlsURL, server.temporary == nil, selectedWorkloads.contains(.w7tls) {
            if let error = await NIOClient.probeTLS(url) {
                say("server: a TLS connection failed (\(error.prefix(200))); W7-TLS will show —")
                tlsURL = nil
            }
        }
        // W1-P: a PgBouncer in transaction mode in front of the embedded server (or TUSK_BENCH_POOLER_URL).
        var bouncer: TemporaryPgBouncer?
        var poolerURL = environment["TUSK_BENCH_POOLER_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if poolerURL == nil, selectedWorkloads.contains(where: { $0 == .w1p || $0 == .w1p0 }), let pg = server.temporary {
            if let reason = TemporaryPgBouncer.unavailableReason(for: pg) {
                say("pooler: \(reason); W1-P will show —")
            } else {
                do {
                    let started = try await TemporaryPgBouncer.start(in: pg, options: .init(poolMode: "transaction", defaultPoolSize: 4))
                    bouncer = started
                    poolerURL = BenchServer.adding("sslmode=disable", to: started.url())
                    clientVersions.append(started.version + " (transaction mode, default_pool_size 4)")
                } catch {
                    say("pooler: PgBouncer did not start (\(error)); W1-P will show —")
                }
            }
        }
        defer { bouncer?.stop() }
        let ctx = BenchContext(
            url: server.url, scramURL: server.scramURL, tlsURL: tlsURL, poolerURL: poolerURL, server: await server.serverCPU(),
            scale: scale, pgbenchPath: pgbenchPath, pythonPath: python,
            asyncpgScript: Self.packageDirectory.appendingPathComponent("Scripts/asyncpg_bench.py").path,
            workDirectory: work.path)
        if ctx.server == nil { say("server CPU: not readable from /proc (remote server?); shown as n/a") }
        let serverVersion = await server.version()
        say("PostgreSQL \(serverVersion); scale \(scale); \(runs) runs; clients: \(selectedClients.map(\.key).joined(separator: ","))")

        var results = Results(workloads: selectedWorkloads, clients: selectedClients)
        for w in selectedWorkloads {
            say("\n\(w.rawValue): \(w.count(scale: scale)) × \(w.title)")
            for run in 1...runs {
                for client in selectedClients {
                    if case .unavailable? = results.outcomes[w]?[client.key] { continue }
                    if case .failed? = results.outcomes[w]?[client.key] { continue }
                    let outcome: Result<Sample, any Error>
                    do {
                        outcome = .success(try await client.run(w, ctx))
                    } catch {
                        outcome = .failure(error)
                    }
                    results.record(w, client.key, outcome)
                    switch outcome {
                    case .success(let s):
                        let main = w == .w5
                            ? String(format: "p50 %.0f µs, p99 %.0f µs", s.p50 ?? .nan, s.p99 ?? .nan)
                            : "\(Results.format(s.opsPerSecond)) \(w.unit)"
                        say("  run \(run) \(client.name): \(main), client \(Results.format(s.clientMicrosPerOp)) µs/op, server \(s.serverMicrosPerOp.map(Results.format) ?? "n/a") µs/op")
                    case .failure(let e as NotAvailable):
                        say("  \(client.name): — (\(e.reason))")
                    case .failure(let e):
                        say("  run \(run) \(client.name): FAILED: \(String(reflecting: e))")
                    }
                }
            }
        }

        let table = results.table()
        say("\n" + table)
        var arguments = Array(CommandLine.arguments.dropFirst())
        arguments = arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }
        let command = (environment["DATABASE_URL"].map { _ in "DATABASE_URL=… " } ?? "")
            + "swift run -c release --package-path Benchmarks tusk-bench" + (arguments.isEmpty ? "" : " " + arguments.joined(separator: " "))
        let report = Environment(
            command: command, serverVersion: serverVersion, serverMode: server.mode, clientVersions: clientVersions,
            scale: scale, runs: runs, startedAt: started, finishedAt: Date(),
            loadAtStart: loadAtStart, loadAtEnd: Environment.loadAverage())
        if !noWrite {
            let path = output ?? Self.packageDirectory.appendingPathComponent("RESULTS.md").path
            try report.markdown(table: table, workloads: selectedWorkloads).write(toFile: path, atomically: true, encoding: .utf8)
            say("\nwritten to \(path)")
        }
    }

    static func pgbenchPath(binDirectory: String?) -> String? {
        var candidates: [String] = []
        if let bin = binDirectory { candidates.append(bin + "/pgbench") }
        if let onPath = AsyncpgClient.findExecutable("pgbench") { candidates.append(onPath) }
        candidates += (13...18).reversed().map { "/usr/lib/postgresql/\($0)/bin/pgbench" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The version Package.resolved pins, when it exists.
    static func resolvedVersion(_ identity: String) -> String? {
        let file = packageDirectory.appendingPathComponent("Package.resolved")
        guard let data = FileManager.default.contents(atPath: file.path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let pins = json["pins"] as? [[String: Any]],
              let pin = pins.first(where: { ($0["identity"] as? String) == identity }),
              let state = pin["state"] as? [String: Any]
        else { return nil }
        return state["version"] as? String
    }
}
