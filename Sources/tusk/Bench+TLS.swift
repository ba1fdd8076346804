import Foundation
import PGClient
import PGTestSupport

/// TLS benchmarks: W1 over TLS next to plain TCP, and connection set-up (connect + TLS + SCRAM + one query + close)
/// per second, Tusk next to `pgbench -C`, in the same run against the same server.
enum BenchTLS {
    static func withSSLMode(_ url: String, _ mode: String) -> String {
        url + (url.contains("?") ? "&" : "?") + "sslmode=" + mode
    }

    /// Connections per second for `seconds`: connect, `SELECT 1`, close, one after another.
    static func tuskConnections(url: String, seconds: Int) async throws -> Bench.Sample {
        let config = try PGConnectionConfiguration(url: url)
        for _ in 0..<20 {  // warm-up: TLS context, event loop
            let c = try await PGConnection.connect(config)
            await c.close()
        }
        let cpu0 = Bench.cpuSeconds(RUSAGE_SELF)
        let t0 = ContinuousClock.now
        let end = t0 + .seconds(seconds)
        var count = 0
        while ContinuousClock.now < end {
            let c = try await PGConnection.connect(config)
            _ = try await c.simpleQuery("SELECT 1")
            await c.close()
            count += 1
        }
        let elapsed = ContinuousClock.now - t0
        let cpu = Bench.cpuSeconds(RUSAGE_SELF) - cpu0
        let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Bench.Sample(opsPerSecond: Double(count) / secs, cpuMicrosPerOp: cpu / Double(count) * 1e6)
    }

    /// `pgbench -n -C -c 1 -t transactions -f (SELECT 1)` with `conninfo`. (`-T` cannot be used from here: pgbench
    /// stops on SIGALRM, which Foundation's `Process` leaves blocked in the child, so `-T` never ends.)
    static func pgbenchConnections(path: String, conninfo: String, transactions: Int) throws -> Bench.Sample {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("tusk-conn-\(getpid()).sql")
        try "SELECT 1;\n".write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-n", "-C", "-c", "1", "-j", "1", "-t", String(transactions), "-f", script.path, conninfo]
        var env = ProcessInfo.processInfo.environment
        env["PGPASSFILE"] = "/nonexistent"
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe  // one pipe, read to the end: a full stderr pipe cannot block pgbench
        let cpu0 = Bench.cpuSeconds(RUSAGE_CHILDREN)
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let cpu = Bench.cpuSeconds(RUSAGE_CHILDREN) - cpu0
        let output = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0,
              let line = output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
              let tps = Double(line.dropFirst(6).split(separator: " ").first ?? ""),
              let txLine = output.split(separator: "\n").first(where: { $0.contains("number of transactions actually processed") }),
              let tx = Double(txLine.split(separator: ":").last?.trimmingCharacters(in: .whitespaces).split(separator: "/").first ?? "")
        else { throw PGError(code: .misuse, message: "pgbench failed: \(output)") }
        return Bench.Sample(opsPerSecond: tps, cpuMicrosPerOp: cpu / max(tx, 1) * 1e6)
    }

    static func run(server pg: TemporaryPostgres, runs: Int, queries: Int, seconds: Int) async throws {
        let pgbench = Bench.pgbenchPath(pg)
        let trust = pg.url()
        print("W1 over TLS: \(queries) sequential `SELECT $1::int4 + 1` on one connection (user tusk_trust), \(runs) interleaved runs, median (spread)")
        var samples: [String: [Bench.Sample]] = [:]
        let w1: [(String, String, Bool)] = [
            ("Tusk, plain TCP (sslmode=disable)", withSSLMode(trust, "disable"), false),
            ("Tusk, TLS (sslmode=require)", withSSLMode(trust, "require"), false),
            ("pgbench, plain TCP", withSSLMode(trust, "disable"), true),
            ("pgbench, TLS", withSSLMode(trust, "require"), true),
        ]
        for run in 1...runs {
            var line = "  run \(run):"
            for (name, url, isPgbench) in w1 {
                let sample: Bench.Sample
                if isPgbench {
                    guard let pgbench else { continue }
                    sample = try Bench.pgbench(path: pgbench, url: url, queries: queries)
                } else {
                    sample = try await Bench.tusk(url: url, queries: queries)
                }
                samples[name, default: []].append(sample)
                line += " \(name.split(separator: ",")[0])\(name.contains("TLS") ? "/tls" : "/tcp") \(Int(sample.opsPerSecond))/s"
            }
            print(line)
        }
        table(w1.map(\.0), samples)

        let role = TemporaryPostgres.Role.scram
        let scramURL = pg.url(user: role.name, password: role.password)
        let conninfo = pg.keywordValue(user: role.name, password: role.password)
        print("\nConnection set-up: connect + TLS + SCRAM-SHA-256(-PLUS) + SELECT 1 + close, one at a time, ~\(seconds) s each (pgbench -C -t: as many as Tusk made), \(runs) runs")
        var conn: [String: [Bench.Sample]] = [:]
        let setups: [(String, String, Bool)] = [
            ("Tusk, TLS (SCRAM-SHA-256-PLUS)", withSSLMode(scramURL, "require"), false),
            ("pgbench -C, TLS (SCRAM-SHA-256-PLUS)", conninfo + " sslmode=require", true),
            ("Tusk, plain TCP (SCRAM-SHA-256)", withSSLMode(scramURL, "disable"), false),
            ("pgbench -C, plain TCP (SCRAM-SHA-256)", conninfo + " sslmode=disable", true),
        ]
        for run in 1...runs {
            var line = "  run \(run):"
            var lastTuskCount = 100
            for (name, target, isPgbench) in setups {
                let sample: Bench.Sample
                if isPgbench {
                    guard let pgbench else { continue }
                    // As many connections as Tusk made in `seconds`: about the same duration.
                    sample = try pgbenchConnections(path: pgbench, conninfo: target, transactions: lastTuskCount)
                } else {
                    sample = try await tuskConnections(url: target, seconds: seconds)
                    lastTuskCount = max(100, Int(sample.opsPerSecond * Double(seconds)))
                }
                conn[name, default: []].append(sample)
                line += " \(Int(sample.opsPerSecond))/s"
            }
            print(line)
        }
        table(setups.map(\.0), conn)
    }

    static func table(_ names: [String], _ samples: [String: [Bench.Sample]]) {
        guard let base = samples[names[0]].map({ Bench.median($0.map(\.opsPerSecond)) }) else { return }
        print("\n| client | per second | vs first row | client CPU µs/op |\n|---|---|---|---|")
        for name in names {
            guard let s = samples[name] else { print("| \(name) | — | | |"); continue }
            let ops = s.map(\.opsPerSecond)
            print(String(format: "| %@ | %.0f (±%.0f%%) | %.2fx | %.1f |", name, Bench.median(ops), Bench.spread(ops),
                         Bench.median(ops) / base, Bench.median(s.map(\.cpuMicrosPerOp))))
        }
    }
}
