import Foundation

// Measurement helpers shared with tusk-bench: copied from Sources/tusk-bench/Measure.swift and Client.swift
// (two executable targets cannot share sources). Keep them in step; a shared library target is the cleaner
// home once a third tool needs them.

enum CPU {
    static func seconds(_ who: __rusage_who) -> Double {
        var usage = rusage()
        getrusage(Int32(who.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static var selfSeconds: Double { seconds(RUSAGE_SELF) }
    static var childrenSeconds: Double { seconds(RUSAGE_CHILDREN) }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// CPU time of the server's process tree, read from /proc: the postmaster's own utime+stime, what it
/// collected from exited children (cutime+cstime: backends that closed), and every live child's
/// utime+stime. The difference of two readings is the server CPU spent in between, including
/// backends that started and ended in the window. Background processes (checkpointer, WAL writer,
/// autovacuum) are included; on an idle benchmark server they add little.
struct ServerCPU: Sendable {
    let postmasterPID: Int32
    let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// Finds the postmaster from a backend pid (its parent), if /proc shows a local postgres process.
    init?(backendPID: Int32) {
        guard let stat = Self.stat(backendPID), stat.comm.contains("postgres") || stat.comm.contains("postmaster"),
              let parent = Self.stat(stat.ppid), parent.comm.contains("postgres") || parent.comm.contains("postmaster")
        else { return nil }
        postmasterPID = stat.ppid
    }

    init?(postmasterPID: Int32) {
        guard Self.stat(postmasterPID) != nil else { return nil }
        self.postmasterPID = postmasterPID
    }

    struct Stat {
        var comm: String
        var ppid: Int32
        var utime: Double, stime: Double, cutime: Double, cstime: Double
    }

    static func stat(_ pid: Int32) -> Stat? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        // comm is in parentheses and may contain spaces; fields after the last ')' are space-separated.
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let comm = String(text[text.index(after: open)..<close])
        let rest = text[text.index(after: close)...].split(separator: " ")
        // rest[0] = state (field 3), so field n is rest[n - 3].
        guard rest.count > 14, let ppid = Int32(rest[1]),
              let ut = Double(rest[11]), let st = Double(rest[12]), let cut = Double(rest[13]), let cst = Double(rest[14])
        else { return nil }
        return Stat(comm: comm, ppid: ppid, utime: ut, stime: st, cutime: cut, cstime: cst)
    }

    /// CPU seconds of the whole tree now, or nil when the postmaster is gone.
    ///
    /// A backend reaped while /proc is being listed would be in neither the postmaster's cutime
    /// (read before) nor the listing, so the reading is repeated until the postmaster's counters did
    /// not move during the listing.
    func read() -> Double? {
        for _ in 0..<20 {
            guard let before = Self.stat(postmasterPID) else { return nil }
            var ticks = before.utime + before.stime + before.cutime + before.cstime
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            for entry in entries {
                guard let pid = Int32(entry), pid != postmasterPID, let s = Self.stat(pid), s.ppid == postmasterPID else { continue }
                ticks += s.utime + s.stime
            }
            guard let after = Self.stat(postmasterPID) else { return nil }
            if after.cutime == before.cutime && after.cstime == before.cstime {
                return ticks / ticksPerSecond
            }
        }
        return nil
    }

    /// Waits (at most `timeout`) until no client backend is alive any more (a subprocess
    /// client's backend ends after the client exits; its CPU is counted once it is reaped).
    func settle(timeout: Duration = .seconds(2)) async {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            let backends = entries.filter { entry in
                guard let pid = Int32(entry), let s = Self.stat(pid), s.ppid == postmasterPID else { return false }
                return s.comm.contains("postgres") && !Self.isAuxiliary(pid)
            }
            if backends.isEmpty { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Background processes (checkpointer, walwriter, autovacuum launcher, …), told apart from
    /// client backends by their command line ("postgres: checkpointer", "postgres: user db …").
    static func isAuxiliary(_ pid: Int32) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return true }
        let cmd = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        for name in ["checkpointer", "background writer", "walwriter", "autovacuum launcher",
                     "logical replication launcher", "stats collector", "archiver", "logger"] where cmd.contains(name) {
            return true
        }
        return false
    }
}

enum Stats {
    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// (max - min) / median, in percent.
    static func spread(_ xs: [Double]) -> Double {
        guard let lo = xs.min(), let hi = xs.max() else { return .nan }
        let m = median(xs)
        return m > 0 ? (hi - lo) / m * 100 : 0
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }
}

/// Prints a progress line and flushes it, so that it shows at once when output goes to a file.
func say(_ line: String) {
    print(line)
    fflush(nil)
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

