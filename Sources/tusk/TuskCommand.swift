import ArgumentParser
import Foundation
import Logging
import PGClient
import PGTestSupport

/// `tusk`: set up the stores' schemas, check them, print their grants; run the driver's demo and benchmarks.
@main
struct TuskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tusk",
        abstract: "Set up and inspect Tusk's PostgreSQL stores; run the driver's demo and benchmarks.",
        discussion: """
            Store commands (setup, migrate, grants) connect to the database named by --url, else \
            DATABASE_URL, else the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, \
            ~/.pgpass). Each store keeps its tables in one schema (default "tusk") and records applied \
            migrations in <schema>.tusk_schema_migrations.

            Typical use: an administrator runs `tusk setup all --schema tusk` once per release as the \
            schema owner, then `tusk grants queue --role app` and applies those GRANTs, and the service \
            runs as `app` with autoCreate off.

            demo, profile, bench and bench-tls use DATABASE_URL when set, otherwise they start an \
            embedded throwaway PostgreSQL.

            Errors are printed as one line on standard error, and the exit status is then 1.
            """,
        subcommands: [
            SetupCommand.self, MigrateCommand.self, GrantsCommand.self, LimiterCommand.self,
            DemoCommand.self, ProfileCommand.self, BenchCommand.self, BenchTLSCommand.self,
        ])
}

/// Logging to standard error at TUSK_LOG_LEVEL (default warning), bootstrapped once.
enum CLILogging {
    static let bootstrapped: Bool = {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = ProcessInfo.processInfo.environment["TUSK_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
            return h
        }
        return true
    }()
}

/// Prints `tusk: <message>` as one line on standard error and exits with status 1.
func fail(_ message: String) -> ExitCode {
    let line = message.replacingOccurrences(of: "\n", with: " ")
    FileHandle.standardError.write(Data("tusk: \(line)\n".utf8))
    return ExitCode(1)
}

// MARK: Driver demo and benchmarks (unchanged behaviour)

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

/// Runs a demo/benchmark body, stops the embedded server afterwards and turns errors into one line.
func runDriverTool(_ body: () async throws -> Void) async throws {
    _ = CLILogging.bootstrapped
    do {
        try await body()
    } catch {
        await stopEmbedded()
        throw fail("\(error)")
    }
    await stopEmbedded()
}

func stopEmbedded() async {
    if let pg = try? await TemporaryPostgres.shared(), !pg.isExternal, ProcessInfo.processInfo.environment["DATABASE_URL"] == nil {
        await pg.stop()
    }
}

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Connect, run a few queries and print the results.",
        discussion: "Uses DATABASE_URL when set, otherwise starts an embedded PostgreSQL.")

    func run() async throws {
        try await runDriverTool { try await Demo.run(url: try await server().url) }
    }
}

struct ProfileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Run one driver workload in a loop, for a profiler.",
        discussion: "`tusk profile help` lists the workloads.")

    @Argument(help: "The workload to run (`help` lists them).")
    var workload: String = "help"

    @Option(help: "Multiply the workload's size by this factor.")
    var scale: Double = 1

    func run() async throws {
        try await runDriverTool { try await Profile.run(url: try await server().url, workload: workload, scale: scale) }
    }
}

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "W1: sequential `SELECT $1::int4 + 1` on one connection, Tusk next to pgbench.")

    @Option(help: "Number of runs.")
    var runs: Int = 3

    @Option(help: "Queries per run.")
    var queries: Int = 20_000

    func run() async throws {
        try await runDriverTool {
            let (url, pg) = try await server()
            try await Bench.run(url: url, server: pg, runs: runs, queries: queries)
        }
    }
}

struct BenchTLSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-tls",
        abstract: "W1 over TLS next to plain TCP, and connections per second (TLS + SCRAM) next to pgbench -C.")

    @Option(help: "Number of runs.")
    var runs: Int = 3

    @Option(help: "Queries per run.")
    var queries: Int = 20_000

    @Option(help: "Seconds per connection-rate run.")
    var seconds: Int = 10

    func run() async throws {
        try await runDriverTool {
            let pg = try await TemporaryPostgres.shared()
            print("PostgreSQL \(pg.serverVersion) on 127.0.0.1:\(pg.port)\(pg.isExternal ? "" : " (embedded, ssl on)")")
            try await BenchTLS.run(server: pg, runs: runs, queries: queries, seconds: seconds)
        }
    }
}
