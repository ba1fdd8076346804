import Foundation
import PGClient
import PGTestSupport

/// The single-connection sequential workload (W1), Tusk next to pgbench in the same run.
enum Bench {
    struct Sample {
        var opsPerSecond: Double
        var cpuMicrosPerOp: Double
    }

    static func cpuSeconds(_ who: __rusage_who) -> Double {
        var usage = rusage()
        getrusage(Int32(who.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static func tusk(url: String, queries: Int) async throws -> Sample {
        let connection = try await PGConnection.connect(try PGConnectionConfiguration(url: url))
        defer { Task { await connection.close() } }
        // Warm-up (prepares the statement), excluded.
        for i in 0..<200 { _ = try await one(connection, Int32(i)) }
        let cpu0 = cpuSeconds(RUSAGE_SELF)
        let t0 = ContinuousClock.now
        var check = 0
        if ProcessInfo.processInfo.environment["TUSK_BENCH_ONLOOP"] == "1" {
            check = try await withTaskExecutorPreference(connection.eventLoop) {
                var c = 0
                for i in 0..<queries { c &+= try await one(connection, Int32(i & 0xFFFF)) }
                return c
            }
        } else {
            for i in 0..<queries { check &+= try await one(connection, Int32(i & 0xFFFF)) }
        }
        let elapsed = ContinuousClock.now - t0
        let cpu = cpuSeconds(RUSAGE_SELF) - cpu0
        let expected = (0..<queries).reduce(0) { $0 &+ ($1 & 0xFFFF) + 1 }
        guard check == expected else { throw PGError(code: .misuse, message: "wrong results: \(check) != \(expected)") }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Sample(opsPerSecond: Double(queries) / seconds, cpuMicrosPerOp: cpu / Double(queries) * 1e6)
    }

    @inline(__always)
    static func one(_ c: PGConnection, _ v: Int32) async throws -> Int {
        var result = 0
        for try await row in try await c.query("SELECT $1::int4 + 1", [v]) {
            result = Int(try row.decode(Int32.self, column: 0))
        }
        return result
    }

    static func pgbenchPath(_ server: TemporaryPostgres?) -> String? {
        var candidates: [String] = []
        if let bin = server?.binDirectory { candidates.append(bin + "/pgbench") }
        candidates += ["/usr/lib/postgresql/17/bin/pgbench", "/usr/lib/postgresql/16/bin/pgbench", "/usr/lib/postgresql/15/bin/pgbench", "/usr/bin/pgbench"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func pgbench(path: String, url: String, queries: Int) throws -> Sample {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("tusk-w1-\(getpid()).sql")
        try "\\set v random(0, 65535)\nSELECT :v::int4 + 1;\n".write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-n", "-M", "prepared", "-c", "1", "-j", "1", "-t", String(queries), "-f", script.path, url]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = Pipe()
        let cpu0 = cpuSeconds(RUSAGE_CHILDREN)
        let t0 = ContinuousClock.now
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let elapsed = ContinuousClock.now - t0
        let cpu = cpuSeconds(RUSAGE_CHILDREN) - cpu0
        let output = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0,
              let line = output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
              let tps = Double(line.dropFirst(6).split(separator: " ").first ?? "")
        else { throw PGError(code: .misuse, message: "pgbench failed: \(output)") }
        _ = elapsed
        return Sample(opsPerSecond: tps, cpuMicrosPerOp: cpu / Double(queries) * 1e6)
    }

    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
    static func spread(_ xs: [Double]) -> Double {
        guard let lo = xs.min(), let hi = xs.max(), hi > 0 else { return 0 }
        return (hi - lo) / median(xs) * 100
    }

    static func run(url: String, server: TemporaryPostgres?, runs: Int, queries: Int) async throws {
        let pgbench = ProcessInfo.processInfo.environment["TUSK_BENCH_ONLY"] == "tusk" ? nil : pgbenchPath(server)
        print("W1: \(queries) sequential `SELECT $1::int4 + 1` on one connection, \(runs) interleaved runs, median (spread)")
        var tusk: [Sample] = []
        var libpq: [Sample] = []
        for run in 1...runs {
            tusk.append(try await Self.tusk(url: url, queries: queries))
            if let pgbench { libpq.append(try Self.pgbench(path: pgbench, url: url, queries: queries)) }
            print("  run \(run): tusk \(Int(tusk.last!.opsPerSecond))/s" + (libpq.last.map { ", pgbench \(Int($0.opsPerSecond))/s" } ?? ""))
        }
        func row(_ name: String, _ s: [Sample], base: Double) -> String {
            let ops = s.map(\.opsPerSecond)
            let cpu = s.map(\.cpuMicrosPerOp)
            return String(format: "| %@ | %.0f (±%.0f%%) | %.2fx | %.1f |", name, median(ops), spread(ops), median(ops) / base, median(cpu))
        }
        let base = median(tusk.map(\.opsPerSecond))
        print("\n| client | queries/s | vs Tusk | client CPU µs/query |\n|---|---|---|---|")
        print(row("Tusk", tusk, base: base))
        if !libpq.isEmpty { print(row("pgbench (libpq, -M prepared -c 1)", libpq, base: base)) } else { print("| pgbench | — (not found) | | |") }
    }
}
