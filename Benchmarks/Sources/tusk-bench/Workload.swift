import Foundation

/// The seven workloads. Every client runs the same statements with the same counts.
enum Workload: String, CaseIterable, Sendable {
    case w1 = "W1", w2 = "W2", w3 = "W3", w4 = "W4", w5 = "W5", w6 = "W6", w7 = "W7", w7tls = "W7-TLS"
    /// W1 through PgBouncer in transaction mode: each client's default settings, then its statement cache off.
    case w1p = "W1-P", w1p0 = "W1-P0"

    static let addOneSQL = "SELECT $1::int4 + 1"
    static let decodeSQL = "SELECT i, i::text, i * 1.5::float8, now() FROM generate_series(1, $1::int4) i"
    static let copyTable = "tusk_bench_copy"
    static let notifyChannel = "tusk_bench"

    /// Full-scale sizes.
    var baseCount: Int {
        switch self {
        case .w1, .w1p, .w1p0: 20_000
        case .w2: 200_000
        case .w3: 1_000_000
        case .w4: 1_000_000
        case .w5: 2_000
        case .w6: 200_000
        case .w7, .w7tls: 1_000
        }
    }

    func count(scale: Double) -> Int {
        max(1, Int((Double(baseCount) * scale).rounded()))
    }

    var title: String {
        switch self {
        case .w1: "sequential `SELECT $1::int4 + 1`, one connection"
        case .w2: "`SELECT $1::int4 + 1` from 64 tasks over 8 connections"
        case .w3: "decode `SELECT i, i::text, i * 1.5::float8, now() FROM generate_series(1, N) i` into native values"
        case .w4: "COPY FROM of (int8, text, float8) rows"
        case .w5: "NOTIFY → LISTEN round trip on one connection"
        case .w6: "pipelined `SELECT $1::int4 + 1`, one connection"
        case .w7: "connection set-up (connect, SCRAM-SHA-256, close), plain TCP"
        case .w7tls: "connection set-up (connect, TLS, SCRAM-SHA-256, close)"
        case .w1p: "sequential `SELECT $1::int4 + 1`, one connection through PgBouncer (transaction mode, 4 server connections), default settings"
        case .w1p0: "as W1-P, with the client's statement cache off (Tusk `statement_cache_size=0`, pgbench `-M simple`)"
        }
    }

    /// What one operation is, for the table's unit.
    var unit: String {
        switch self {
        case .w1, .w2, .w6, .w1p, .w1p0: "queries/s"
        case .w3, .w4: "rows/s"
        case .w5: "notifications/s"
        case .w7, .w7tls: "connections/s"
        }
    }

    static func parseList(_ text: String) throws -> [Workload] {
        try text.split(separator: ",").map { item in
            let key = item.trimmingCharacters(in: .whitespaces).uppercased()
            if key == "W7TLS" { return .w7tls }
            if key == "W1P" { return .w1p }
            if key == "W1P0" { return .w1p0 }
            guard let w = Workload(rawValue: key) else {
                throw BenchError("unknown workload \(item); known: \(allCases.map(\.rawValue).joined(separator: ","))")
            }
            return w
        }
    }

    // MARK: Expected results

    /// Sum of `v + 1` for the values the add-one workloads bind: v = i & 0xFFFF for i in 0..<n.
    static func expectedAddOneSum(_ n: Int) -> Int {
        var total = 0
        for i in 0..<n { total &+= (i & 0xFFFF) + 1 }
        return total
    }

    /// The value bound for query number i.
    @inline(__always) static func value(_ i: Int) -> Int32 { Int32(truncatingIfNeeded: i & 0xFFFF) }
}

/// Everything a client needs to run a workload against the shared server.
struct BenchContext: Sendable {
    /// URL for the ordinary workloads (trust or the user's DATABASE_URL).
    var url: String
    /// URL of a SCRAM-SHA-256 user for W7 (equals `url` with an external server).
    var scramURL: String
    /// Same as scramURL with sslmode=require, for W7-TLS; nil when the server has no TLS.
    var tlsURL: String?
    /// A SCRAM user through a PgBouncer in transaction mode in front of the server (W1-P); nil without one.
    var poolerURL: String?
    var server: ServerCPU?
    var scale: Double
    var pgbenchPath: String?
    var pythonPath: String?
    var asyncpgScript: String
    var workDirectory: String

    /// Connection parameters parsed from a URL (for PostgresNIO, whose configuration takes fields).
    struct Endpoint: Sendable {
        var host: String, port: Int, user: String, password: String?, database: String?
    }

    static func endpoint(_ url: String) throws -> Endpoint {
        guard let c = URLComponents(string: url), let user = c.user else {
            throw BenchError("cannot parse the connection URL for PostgresNIO (need postgres://user[:password]@host[:port]/db)")
        }
        var host = c.host ?? "localhost"
        if let q = c.queryItems?.first(where: { $0.name == "host" })?.value { host = q }
        let path = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
        return Endpoint(host: host, port: c.port ?? 5432, user: user, password: c.password,
                        database: path.isEmpty ? nil : path)
    }
}
