import ArgumentParser
import Foundation
import PGClient
import PGTestSupport

@main
struct TuskStoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tusk-store-bench",
        abstract: "Tusk's Postgres-backed stores side by side with their peers on the same server.",
        discussion: """
        Each subcommand benchmarks one store against DATABASE_URL, or a throwaway server (TemporaryPostgres
        with pg_stat_statements) it starts and stops, and writes its section of Benchmarks/RESULTS-stores.md.
        """,
        subcommands: [RateLimitBench.self, RateLimitWorker.self])

    /// Benchmarks/ (this file is Benchmarks/Sources/tusk-store-bench/StoreBench.swift).
    static let packageDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// One measured run of one workload by one client.
struct Sample: Sendable {
    var operations: Int
    var seconds: Double
    var clientCPU: Double?
    var serverCPU: Double?
    /// Latency of one operation, microseconds.
    var p50: Double?
    var p99: Double?
    /// pg_stat_statements calls in the window (every statement of the database, the client's own included).
    var statements: Int?
    /// Acquires that were not admitted (the limit is never binding here: lock contention, errors).
    var denied = 0
    var note: String?

    var opsPerSecond: Double { Double(operations) / seconds }
    /// Per-acquire figures are nil when nothing was acquired in the window.
    var clientMicrosPerOp: Double? { operations == 0 ? nil : clientCPU.map { $0 / Double(operations) * 1e6 } }
    var serverMicrosPerOp: Double? { operations == 0 ? nil : serverCPU.map { $0 / Double(operations) * 1e6 } }
    var statementsPerOp: Double? { operations == 0 ? nil : statements.map { Double($0) / Double(operations) } }
}

struct NotAvailable: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The server: DATABASE_URL, or a throwaway cluster with pg_stat_statements preloaded.
struct StoreServer: Sendable {
    /// What the clients connect with (plain TCP, as in tusk-bench).
    let url: String
    /// A superuser (embedded) or the same URL (external), for pg_stat_statements and pg_stat_activity.
    let adminURL: String
    let binDirectory: String?
    let mode: String
    let temporary: TemporaryPostgres?

    static func start(environment: [String: String]) async throws -> StoreServer {
        if let url = environment["DATABASE_URL"], !url.isEmpty {
            let plain = url.contains("sslmode=") ? url : adding("sslmode=disable", to: url)
            return StoreServer(url: plain, adminURL: plain, binDirectory: nil,
                               mode: "external, DATABASE_URL (pg_stat_statements must be in shared_preload_libraries for the statement counts)",
                               temporary: nil)
        }
        let settings = [
            "shared_preload_libraries": "'pg_stat_statements'",
            "pg_stat_statements.track": "'top'",
            // Long enough for the acquire statement in pg_stat_activity (rendered into pgbench's script).
            "track_activity_query_size": "16384",
        ]
        let pg = try await TemporaryPostgres.start(options: .init(settings: settings, tlsCertificate: nil))
        return StoreServer(url: adding("sslmode=disable", to: pg.url()),
                           adminURL: adding("sslmode=disable", to: pg.url(user: TemporaryPostgres.superuser)),
                           binDirectory: pg.binDirectory,
                           mode: "throwaway cluster started by TemporaryPostgres (its defaults: fsync = off, max_connections = 200) "
                               + "+ shared_preload_libraries = pg_stat_statements",
                           temporary: pg)
    }

    static func adding(_ parameter: String, to url: String) -> String {
        url + (url.contains("?") ? "&" : "?") + parameter
    }

    func stop() async {
        if let temporary, !temporary.isExternal { await temporary.stop() }
    }

    func serverCPU() async -> ServerCPU? {
        if let pid = temporary?.postmasterPID, let s = ServerCPU(postmasterPID: Int32(pid)) { return s }
        guard let c = try? await PGConnection.connect(try PGConnectionConfiguration(url: url)) else { return nil }
        let pid = await c.backendProcessID
        await c.close()
        return ServerCPU(backendPID: pid)
    }

    func version() async -> String {
        if let v = temporary?.serverVersion, !v.isEmpty { return v }
        guard let c = try? await PGConnection.connect(try PGConnectionConfiguration(url: url)) else { return "unknown" }
        let v = await c.serverParameters["server_version"] ?? "unknown"
        await c.close()
        return v
    }
}

/// Statements executed in a window, from pg_stat_statements: reset before, sum of calls after. Statements
/// that mention pg_stat_statements (this counter's own) are left out.
final class StatementCounter: Sendable {
    let connection: PGConnection

    private init(_ connection: PGConnection) { self.connection = connection }

    static func open(_ url: String) async -> Result<StatementCounter, NotAvailable> {
        do {
            let c = try await PGConnection.connect(try PGConnectionConfiguration(url: url))
            do {
                _ = try await c.simpleQuery("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                _ = try await c.simpleQuery("SELECT pg_stat_statements_reset()")
                return .success(StatementCounter(c))
            } catch {
                await c.close()
                return .failure(NotAvailable(reason: "pg_stat_statements unavailable: \(String(describing: error).prefix(200))"))
            }
        } catch {
            return .failure(NotAvailable(reason: "cannot connect for pg_stat_statements: \(String(describing: error).prefix(200))"))
        }
    }

    func reset() async throws {
        _ = try await connection.simpleQuery("SELECT pg_stat_statements_reset()")
    }

    static let callsSQL = """
        SELECT coalesce(sum(calls), 0)::int8 FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND query NOT LIKE '%pg_stat_statements%'
        """

    func calls() async throws -> Int {
        Int(try await connection.queryOne(PGQuery(unsafeSQL: Self.callsSQL), as: Int64.self))
    }

    /// The text of the most recent statement of another session that contains every one of `fragments`.
    func lastStatement(containing fragments: [String]) async throws -> String? {
        let conditions = fragments.map { "query LIKE '%" + $0.replacingOccurrences(of: "'", with: "''") + "%'" }.joined(separator: " AND ")
        let sql = "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND " + conditions + " ORDER BY query_start DESC LIMIT 1"
        return try await connection.queryOptional(PGQuery(unsafeSQL: sql), as: String.self)
    }

    func close() async { await connection.close() }
}

/// Where and how the numbers were taken.
enum Machine {
    static func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "n/a" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func description() -> String {
        var parts: [String] = []
        if let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let model = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("model name") })?.split(separator: ":").last {
            parts.append(model.trimmingCharacters(in: .whitespaces))
        }
        parts.append("\(ProcessInfo.processInfo.activeProcessorCount) cores")
        parts.append(String(format: "%.1f GiB RAM", Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824))
        var u = utsname()
        uname(&u)
        let sys = withUnsafeBytes(of: &u.sysname) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let rel = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let arch = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        parts.append("\(sys) \(rel) \(arch)")
        return parts.joined(separator: ", ")
    }

    static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        return nil
    }

    static func pgbenchPath(binDirectory: String?) -> String? {
        var candidates: [String] = []
        if let bin = binDirectory { candidates.append(bin + "/pgbench") }
        if let onPath = findExecutable("pgbench") { candidates.append(onPath) }
        candidates += (13...18).reversed().map { "/usr/lib/postgresql/\($0)/bin/pgbench" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// Benchmarks/RESULTS-stores.md: one `## ` section per store; writing one section keeps the others.
enum StoreResultsFile {
    static let header = """
        # Tusk store benchmark results

        Generated by `tusk-store-bench` (Benchmarks/Sources/tusk-store-bench); do not edit by hand — rerun the
        command of a section to refresh it. One section per store, each measured in one run next to its peers.

        """

    static func write(section title: String, body: String, to path: String) throws {
        let existing = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var sections: [(String, String)] = []
        var current: (String, [Substring])?
        for line in existing.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                if let c = current { sections.append((c.0, c.1.joined(separator: "\n"))) }
                current = (String(line.dropFirst(3)), [])
            } else if current != nil {
                current!.1.append(line)
            }
        }
        if let c = current { sections.append((c.0, c.1.joined(separator: "\n"))) }
        let text = "\n" + body.trimmingCharacters(in: .newlines) + "\n"
        if let i = sections.firstIndex(where: { $0.0 == title }) {
            sections[i].1 = text
        } else {
            sections.append((title, text))
        }
        var out = header
        for (t, b) in sections {
            out += "\n## \(t)\n\n\(b.trimmingCharacters(in: .newlines))\n"
        }
        try out.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// A small, fast generator for picking keys (one per task).
struct XorShift: Sendable {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
