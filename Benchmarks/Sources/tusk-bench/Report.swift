import Foundation

/// Collected results of a run: samples per workload and client, or the reason there are none.
struct Results {
    enum Outcome {
        case samples([Sample])
        case unavailable(String)
        case failed(String)
    }

    var workloads: [Workload]
    var clients: [any BenchClient]
    var outcomes: [Workload: [String: Outcome]] = [:]

    mutating func record(_ w: Workload, _ client: String, _ result: Result<Sample, any Error>) {
        var perClient = outcomes[w] ?? [:]
        switch (perClient[client], result) {
        case (.failed, _), (.unavailable, _):
            break  // a failed or unavailable row stays so
        case (.samples(let xs), .success(let s)):
            perClient[client] = .samples(xs + [s])
        case (nil, .success(let s)):
            perClient[client] = .samples([s])
        case (_, .failure(let e as NotAvailable)):
            perClient[client] = .unavailable(e.reason)
        case (_, .failure(let e)):
            perClient[client] = .failed(String(reflecting: e))
        }
        outcomes[w] = perClient
    }

    /// The Tusk row every ratio is taken against.
    static let baselineKey = "tusk"

    func table() -> String {
        var lines = [
            "| Workload | Client | Throughput, median (spread) | × Tusk | Client CPU µs/op | Server CPU µs/op | Notes |",
            "|---|---|---|---|---|---|---|",
        ]
        for w in workloads {
            let perClient = outcomes[w] ?? [:]
            var baseline: Double?
            if case .samples(let xs)? = perClient[Self.baselineKey] {
                baseline = w == .w5 ? Stats.median(xs.compactMap(\.p50)) : Stats.median(xs.map(\.opsPerSecond))
            }
            for client in clients {
                guard let outcome = perClient[client.key] else { continue }
                let label = "\(w.rawValue)"
                switch outcome {
                case .unavailable(let reason):
                    lines.append("| \(label) | \(client.name) | — | — | — | — | \(reason) |")
                case .failed(let error):
                    let oneLine = error.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "|", with: "/")
                    lines.append("| \(label) | \(client.name) | failed | — | — | — | \(oneLine.prefix(200)) |")
                case .samples(let xs):
                    let ops = xs.map(\.opsPerSecond)
                    let cpu = Stats.median(xs.map(\.clientMicrosPerOp))
                    let server = xs.compactMap(\.serverMicrosPerOp)
                    let serverText = server.count == xs.count ? Self.format(Stats.median(server)) : "n/a"
                    var throughput: String
                    var ratio = "—"
                    if w == .w5 {
                        let p50 = xs.compactMap(\.p50), p99 = xs.compactMap(\.p99)
                        throughput = String(format: "p50 %.0f µs (±%.0f%%), p99 %.0f µs", Stats.median(p50), Stats.spread(p50), Stats.median(p99))
                        // Latency: a ratio above 1 means this client is faster (lower p50) than Tusk.
                        if let baseline { ratio = String(format: "%.2f×", baseline / Stats.median(p50)) }
                    } else {
                        throughput = String(format: "%@ %@ (±%.0f%%)", Self.format(Stats.median(ops)), w.unit, Stats.spread(ops))
                        if let baseline { ratio = String(format: "%.2f×", Stats.median(ops) / baseline) }
                    }
                    if xs.count < 2 { throughput += " (1 run)" }
                    let note = xs.compactMap(\.note).first ?? ""
                    lines.append("| \(label) | \(client.name) | \(throughput) | \(ratio) | \(Self.format(cpu)) | \(serverText) | \(note) |")
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    static func format(_ x: Double) -> String {
        guard x.isFinite else { return "n/a" }
        if x >= 1000 { return String(format: "%.0f", x) }
        if x >= 99.95 { return String(format: "%.0f", x) }
        if x >= 9.995 { return String(format: "%.1f", x) }
        return String(format: "%.2f", x)
    }
}

/// What the results file says about where and how the numbers were taken.
struct Environment {
    var command: String
    var serverVersion: String
    var serverMode: String
    var clientVersions: [String]
    var scale: Double
    var runs: Int
    var startedAt: Date
    var finishedAt: Date
    var loadAtStart: String
    var loadAtEnd: String

    /// The 1-, 5- and 15-minute load averages (how busy the shared machine was).
    static func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "n/a" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func machine() -> String {
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

    func markdown(table: String, workloads: [Workload]) -> String {
        let iso = ISO8601DateFormatter()
        var s = """
        # Tusk benchmark results

        Generated by `tusk-bench` (Benchmarks/Sources/tusk-bench); do not edit by hand — rerun the command below.

        - Command: `\(command)`
        - Date: \(iso.string(from: startedAt)) – \(iso.string(from: finishedAt))
        - Machine: \(Self.machine()); load average \(loadAtStart) at the start, \(loadAtEnd) at the end
        - Server: PostgreSQL \(serverVersion) (\(serverMode)), TCP over loopback
        - Clients: \(clientVersions.joined(separator: "; "))
        - Scale: \(scale == 1 ? "1 (full size)" : String(format: "%g", scale)); \(runs) interleaved run\(runs == 1 ? "" : "s") per client, median and spread ((max − min) / median)

        Workloads (each client runs the same statements and counts; results are checked after every run):

        """
        for w in workloads {
            s += "- **\(w.rawValue)** — \(w.count(scale: scale)) × \(w.title)\n"
        }
        s += """

        \(table)

        How to read it: throughput is operations per second of wall-clock time in the measured window
        (connecting and warm-up excluded); × Tusk is this row's throughput divided by the
        "Tusk (default executor)" row of the same workload (for W5, Tusk's p50 divided by this row's, so
        above 1 is faster than Tusk either way). Client CPU is user + system time of the client per
        operation (getrusage: RUSAGE_SELF for the in-process Swift clients, the pgbench process via
        RUSAGE_CHILDREN — which includes its start-up and connecting — and the asyncpg script's own
        RUSAGE_SELF over its window). Server CPU is the postmaster's process tree from /proc (backends,
        including those that exited, plus background processes), per operation. "—" means the client
        or Tusk cannot run that workload yet; the note says why. Wall-clock figures on a shared machine
        are noisy: compare ratios within one run, and CPU per operation across runs.

        The two Tusk rows: "default executor" runs plain tasks; "on its event loop" runs tasks that prefer
        the connection's (or the pool's) event loop. On the loop, a task waiting for its reply reads its
        socket for up to 50 µs before it suspends, and the loop polls before it parks (`pollBeforeParking`,
        the default; `TUSK_POLL_BEFORE_PARKING_US=0` turns it off), so a fast reply costs no sleep and no
        wake-up, and client CPU per operation is about the round trip's wall time. When the loop has
        measured that a park costs its thread more CPU than that (a busy host), polls last as long as a
        park costs, up to 1 ms (`PGEventLoop.parkCost`, `pollBudget`). A plain task does the
        same when it finds the loop idle and parked: it borrows the loop (`TUSK_BORROW_LOOP=0` turns that
        off); when the loop is busy, its request is handed to the loop and the reply resumes it on the
        global pool.

        """
        return s
    }
}
