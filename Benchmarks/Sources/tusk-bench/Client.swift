import Foundation

/// A driver under test. `run` measures one workload once (connect and warm-up outside the window)
/// and checks the results, or throws `NotAvailable` when the client cannot run it.
protocol BenchClient: Sendable {
    /// Short name for `--clients`.
    var key: String { get }
    /// Name in the table.
    var name: String { get }
    func run(_ workload: Workload, _ ctx: BenchContext) async throws -> Sample
}

/// The COPY table of W4: same rows for every client, checked after each run.
enum CopyTable {
    static let resetSQL = [
        "DROP TABLE IF EXISTS \(Workload.copyTable)",
        "CREATE UNLOGGED TABLE \(Workload.copyTable) (a int8, b text, c float8)",
    ]
    static let checkSQL = "SELECT count(*)::int8, coalesce(sum(a), 0)::int8, coalesce(sum(length(b)), 0)::int8 FROM \(Workload.copyTable)"

    static func reset(_ run: (String) async throws -> Void) async throws {
        for sql in resetSQL { try await run(sql) }
    }

    /// Row i: (i, "row-<i>", i * 0.5).
    static func textLine(_ i: Int) -> String { "\(i)\trow-\(i)\t\(Double(i) * 0.5)\n" }

    static func check(n: Int, count: Int, sumA: Int, sumLen: Int) throws {
        try verify(count == n, "W4 count \(count) != \(n)")
        try verify(sumA == n * (n + 1) / 2, "W4 sum(a) \(sumA)")
        try verify(sumLen == 4 * n + Workload.expectedTextLength(n), "W4 sum(length(b)) \(sumLen)")
    }
}

/// Runs a subprocess to completion with stdout and stderr captured to files.
struct Subprocess {
    var status: Int32
    var stdout: String
    var stderr: String

    static func run(_ path: String, _ arguments: [String], workDirectory: String, environment: [String: String]? = nil) throws -> Subprocess {
        let outURL = URL(fileURLWithPath: workDirectory).appendingPathComponent("sub-\(getpid()).out")
        let errURL = URL(fileURLWithPath: workDirectory).appendingPathComponent("sub-\(getpid()).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try? out.close(); try? err.close()
        return Subprocess(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }
}

func verify(_ condition: Bool, _ what: @autoclosure () -> String) throws {
    if !condition { throw BenchError("wrong result: \(what())") }
}

/// The W3 checks every client makes: row count, sum of i, total text length, sum of the floats,
/// and a plausible timestamp.
func checkDecode(n: Int, count: Int, sumI: Int, sumLen: Int, sumD: Double, date: Date) throws {
    try verify(count == n, "W3 row count \(count) != \(n)")
    try verify(sumI == n * (n + 1) / 2, "W3 sum(i) \(sumI)")
    try verify(sumLen == Workload.expectedTextLength(n), "W3 text length \(sumLen)")
    let expectedD = 1.5 * Double(n) * Double(n + 1) / 2
    try verify(abs(sumD - expectedD) <= expectedD * 1e-9, "W3 sum(float) \(sumD) != \(expectedD)")
    try verify(abs(date.timeIntervalSinceNow) < 3600, "W3 now() \(date)")
}

extension Workload {
    /// Total number of digits of 1...n.
    static func expectedTextLength(_ n: Int) -> Int {
        var total = 0, start = 1, digits = 1
        while start <= n {
            let end = min(n, start * 10 - 1)
            total += (end - start + 1) * digits
            start *= 10; digits += 1
        }
        return total
    }
}
