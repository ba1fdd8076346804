import Foundation

/// asyncpg (Python), through Scripts/asyncpg_bench.py in a virtual environment. The script times
/// its own window (excluding interpreter start-up, imports, connecting and warm-up) and reports its
/// getrusage(RUSAGE_SELF) and the server tree's CPU for that window.
struct AsyncpgClient: BenchClient {
    var key: String { "asyncpg" }
    var name: String { "asyncpg (Python)" }

    func run(_ workload: Workload, _ ctx: BenchContext) async throws -> Sample {
        guard let python = ctx.pythonPath else { throw NotAvailable(reason: "asyncpg not installed") }
        let url: String
        switch workload {
        case .w1p, .w1p0: throw NotAvailable(reason: "not run through the pooler")
        case .w7: url = ctx.scramURL
        case .w7tls:
            guard let tls = ctx.tlsURL else { throw NotAvailable(reason: "server has no TLS") }
            url = tls
        default: url = ctx.url
        }
        var args = [ctx.asyncpgScript, "--workload", workload.rawValue, "--url", url, "--n", String(workload.count(scale: ctx.scale))]
        if let pid = ctx.server?.postmasterPID { args += ["--postmaster-pid", String(pid)] }
        let result = try Subprocess.run(python, args, workDirectory: ctx.workDirectory)
        guard result.status == 0 else {
            throw BenchError("asyncpg script failed (\(result.status)): \(result.stderr.suffix(800))")
        }
        guard let line = result.stdout.split(separator: "\n").last,
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { throw BenchError("unexpected asyncpg script output: \(result.stdout.prefix(500))") }
        if let reason = object["unavailable"] as? String { throw NotAvailable(reason: reason) }
        guard let ops = object["operations"] as? Int, let seconds = object["seconds"] as? Double,
              let cpu = object["cpu"] as? Double
        else { throw BenchError("incomplete asyncpg script output: \(line)") }
        var sample = Sample(operations: ops, seconds: seconds, clientCPU: cpu, serverCPU: object["server_cpu"] as? Double)
        sample.p50 = object["p50"] as? Double
        sample.p99 = object["p99"] as? Double
        let loop = object["loop"] as? String ?? "asyncio"
        sample.note = ([loop] + [object["note"] as? String].compactMap { $0 }).joined(separator: "; ")
        return sample
    }

    /// Makes sure `venv` has asyncpg (and uvloop); returns its python, or nil with the reason printed.
    static func prepareEnvironment(venv: String) -> (python: String, version: String)? {
        let python = venv + "/bin/python"
        let fm = FileManager.default
        let work = NSTemporaryDirectory()
        if !fm.isExecutableFile(atPath: python) {
            guard let python3 = findExecutable("python3") else {
                say("asyncpg: skipped (python3 not found; install it with: apt-get install python3 python3-venv)")
                return nil
            }
            say("asyncpg: creating a virtual environment in \(venv)")
            let made = try? Subprocess.run(python3, ["-m", "venv", venv], workDirectory: work)
            guard made?.status == 0, fm.isExecutableFile(atPath: python) else {
                try? fm.removeItem(atPath: venv)
                say("asyncpg: skipped (python3 -m venv failed; install it with: apt-get install python3-venv)")
                if let e = made?.stderr, !e.isEmpty { say("  " + e.split(separator: "\n").suffix(3).joined(separator: "\n  ")) }
                return nil
            }
        }
        let probe = try? Subprocess.run(python, ["-c", "import asyncpg, uvloop"], workDirectory: work)
        if probe?.status != 0 {
            say("asyncpg: pip install asyncpg uvloop into \(venv)")
            let pip = try? Subprocess.run(python, ["-m", "pip", "install", "--quiet", "asyncpg", "uvloop"], workDirectory: work)
            if pip?.status != 0 {
                // uvloop is optional: try asyncpg alone.
                let again = try? Subprocess.run(python, ["-m", "pip", "install", "--quiet", "asyncpg"], workDirectory: work)
                guard again?.status == 0 else {
                    say("asyncpg: skipped (pip install asyncpg failed): \(again?.stderr.suffix(300) ?? "")")
                    return nil
                }
            }
        }
        let version = try? Subprocess.run(
            python, ["-c", "import asyncpg, sys\ntry:\n import uvloop; u = ', uvloop ' + uvloop.__version__\nexcept ImportError: u = ''\nprint('asyncpg ' + asyncpg.__version__ + u + ', Python ' + sys.version.split()[0])"],
            workDirectory: work)
        let text = version?.status == 0 ? version?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? "" : ""
        return (python, text.isEmpty ? "asyncpg" : text)
    }

    static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        return nil
    }
}
