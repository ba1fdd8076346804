import Foundation
import Logging
import PGClient
import PGTestSupport

// tusk — demo and benchmarks against DATABASE_URL or an embedded throwaway PostgreSQL.
//
//   tusk demo                 connect, run a few queries, print the results
//   tusk bench [--runs N] [--queries N]
//                             W1: sequential `SELECT $1::int4 + 1` on one connection, Tusk next to pgbench
//   tusk bench-tls [--runs N] [--queries N] [--seconds N]
//                             W1 over TLS next to plain TCP, and connections per second (TLS + SCRAM) next to pgbench -C

LoggingSystem.bootstrap { label in
    var h = StreamLogHandler.standardError(label: label)
    h.logLevel = ProcessInfo.processInfo.environment["TUSK_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    return h
}

let arguments = Array(CommandLine.arguments.dropFirst())
let command = arguments.first ?? "help"

func option(_ name: String, default value: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let n = Int(arguments[i + 1]) else { return value }
    return n
}

/// The server to use: DATABASE_URL, or an embedded throwaway cluster.
func server() async throws -> (url: String, server: TemporaryPostgres?) {
    if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty {
        return (url, nil)
    }
    print("Starting an embedded PostgreSQL (set DATABASE_URL to use your own)…")
    let pg = try await TemporaryPostgres.shared()
    print("  PostgreSQL \(pg.serverVersion) on 127.0.0.1:\(pg.port)")
    // The embedded server has TLS on; W1 and the demo stay on plain TCP (`tusk bench-tls` compares TLS).
    return (pg.url() + "?sslmode=disable", pg)
}

do {
    switch command {
    case "demo":
        try await Demo.run(url: try await server().url)
    case "profile":
        let workload = arguments.count > 1 ? arguments[1] : "help"
        let scale = arguments.firstIndex(of: "--scale").flatMap { $0 + 1 < arguments.count ? Double(arguments[$0 + 1]) : nil } ?? 1
        try await Profile.run(url: try await server().url, workload: workload, scale: scale)
    case "bench":
        let (url, pg) = try await server()
        try await Bench.run(url: url, server: pg, runs: option("--runs", default: 3), queries: option("--queries", default: 20_000))
    case "bench-tls":
        let pg = try await TemporaryPostgres.shared()
        print("PostgreSQL \(pg.serverVersion) on 127.0.0.1:\(pg.port)\(pg.isExternal ? "" : " (embedded, ssl on)")")
        try await BenchTLS.run(
            server: pg, runs: option("--runs", default: 3), queries: option("--queries", default: 20_000),
            seconds: option("--seconds", default: 10))
    default:
        print("""
            usage: tusk demo
                   tusk bench [--runs 3] [--queries 20000]
                   tusk bench-tls [--runs 3] [--queries 20000] [--seconds 10]
            Uses DATABASE_URL when set, otherwise starts an embedded PostgreSQL.
            """)
    }
    if let pg = try? await TemporaryPostgres.shared(), !pg.isExternal, ProcessInfo.processInfo.environment["DATABASE_URL"] == nil {
        await pg.stop()
    }
} catch {
    FileHandle.standardError.write(Data("tusk: \(error)\n".utf8))
    exit(1)
}
