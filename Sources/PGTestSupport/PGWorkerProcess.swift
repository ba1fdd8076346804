// PGWorkerProcess: a child process (the `tusk-test-worker` executable) that a test starts, reads,
// signals and reaps. Crashes in multi-process tests are process deaths, so they are real processes.

import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A worker process started by a test: runs one scenario of `tusk-test-worker` (or any executable),
/// prints ``PGWorkerEvent`` lines that the test reads as they come, and can be signalled (SIGKILL at a
/// chosen moment) and waited for with a timeout.
///
/// Clean-up is automatic and bounded: a reaper thread collects the exit status as soon as the process
/// ends (no zombies); a process still running when its `PGWorkerProcess` is released gets SIGKILL; and
/// the worker's standard input is a pipe from the test process, so a worker whose test process died
/// (even by SIGKILL) reads EOF and exits (no orphans; `tusk-test-worker` watches its stdin). Standard
/// error is collected (the last 64 KB) for failure messages.
///
/// ```swift
/// let url = pg.url()
/// let worker = try PGWorkerProcess.start("hold-locks", arguments: ["--url", url, "--key", "7"])
/// let locked = try await worker.waitForEvent(named: "locked", timeout: .seconds(10))
/// worker.kill()                                        // SIGKILL, mid-transaction
/// let end = try await worker.waitForExit(timeout: .seconds(5))
/// #expect(end == .signalled(SIGKILL))
/// ```
public final class PGWorkerProcess: Sendable {

    /// How a process ended.
    public enum Termination: Sendable, Hashable, CustomStringConvertible {
        /// It exited with this status.
        case exited(Int32)
        /// A signal ended it.
        case signalled(Int32)

        public var description: String {
            switch self {
            case .exited(let code): "exited(\(code))"
            case .signalled(let signal): "signalled(\(signal))"
            }
        }
    }

    /// The process id (valid until the process is reaped; ``signal(_:)`` never signals a reaped pid).
    public let pid: Int32
    /// A name for messages, e.g. "worker 2 (hold-locks)".
    public let label: String
    /// The executable and arguments it was started with.
    public let commandLine: [String]

    let inner: Inner

    /// The environment variable that names the worker executable, overriding the search.
    public static let executableEnvironmentVariable = "TUSK_TEST_WORKER"
    /// The worker executable's product name.
    public static let executableName = "tusk-test-worker"

    init(pid: Int32, label: String, commandLine: [String], inner: Inner) {
        self.pid = pid
        self.label = label
        self.commandLine = commandLine
        self.inner = inner
    }

    deinit {
        inner.killIfRunning()
    }

    // MARK: Starting

    /// Starts `tusk-test-worker <scenario> <arguments…>` (found with ``findExecutable(named:)``).
    /// The environment is this process's plus `environment`; the worker's stdin is a pipe held by this
    /// process (its EOF tells the worker the test is gone).
    ///
    /// ```swift
    /// let w = try PGWorkerProcess.start("ledger-writer", arguments: ["--url", url, "--worker", "1"])
    /// ```
    public static func start(
        _ scenario: String, arguments: [String] = [], environment: [String: String] = [:], label: String? = nil
    ) throws -> PGWorkerProcess {
        let executable = try findExecutable()
        return try launch(executable: executable, arguments: [scenario] + arguments, environment: environment,
                          label: label ?? "\(executableName) \(scenario)")
    }

    /// Starts `count` workers of one scenario; `arguments(i)` gives worker `i`'s arguments (0-based).
    /// If one fails to start, those already started are killed.
    ///
    /// ```swift
    /// let workers = try PGWorkerProcess.start(count: 4, "ledger-writer") { i in ["--url", url, "--worker", "\(i)"] }
    /// ```
    public static func start(
        count: Int, _ scenario: String, environment: [String: String] = [:], arguments: (Int) -> [String]
    ) throws -> [PGWorkerProcess] {
        var started: [PGWorkerProcess] = []
        do {
            for i in 0..<count {
                started.append(try start(scenario, arguments: arguments(i), environment: environment, label: "worker \(i) (\(scenario))"))
            }
        } catch {
            for w in started { w.kill() }
            throw error
        }
        return started
    }

    /// Starts any executable under the same supervision (events parsed from its stdout).
    ///
    /// ```swift
    /// let p = try PGWorkerProcess.launch(executable: "/bin/sh", arguments: ["-c", "echo ready; sleep 60"])
    /// ```
    public static func launch(
        executable: String, arguments: [String], environment: [String: String] = [:], label: String? = nil
    ) throws -> PGWorkerProcess {
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        env["TUSK_WORKER_PARENT_PID"] = String(getpid())
        let stdin = try pipePair()
        let stdout: (read: Int32, write: Int32)
        let stderr: (read: Int32, write: Int32)
        do {
            stdout = try pipePair()
        } catch {
            close(stdin.read); close(stdin.write)
            throw error
        }
        do {
            stderr = try pipePair()
        } catch {
            for fd in [stdin.read, stdin.write, stdout.read, stdout.write] { close(fd) }
            throw error
        }
        let pid: pid_t
        do {
            pid = try TemporaryPostgres.spawn(
                [executable] + arguments, environment: env, directory: nil,
                stdin: stdin.read, stdout: stdout.write, stderr: stderr.write)
        } catch {
            for fd in [stdin.read, stdin.write, stdout.read, stdout.write, stderr.read, stderr.write] { close(fd) }
            throw PGWorkerError("cannot start \(executable): \(error)")
        }
        close(stdin.read)
        close(stdout.write)
        close(stderr.write)
        let inner = Inner(pid: pid, stdinWrite: stdin.write)
        inner.startThreads(stdout: stdout.read, stderr: stderr.read)
        return PGWorkerProcess(pid: pid, label: label ?? executable, commandLine: [executable] + arguments, inner: inner)
    }

    /// The worker executable: `$TUSK_TEST_WORKER` if set; else `name` next to the running test binary
    /// (SwiftPM puts executables and the test bundle in one folder, e.g. `.build/debug/`); else in this
    /// package's `.build/debug` or `.build/release`. `swift build --build-tests` and `swift test` build
    /// it along with everything else.
    ///
    /// ```swift
    /// let path = try PGWorkerProcess.findExecutable()
    /// ```
    public static func findExecutable(named name: String = executableName) throws -> String {
        if let explicit = ProcessInfo.processInfo.environment[executableEnvironmentVariable], !explicit.isEmpty {
            guard TemporaryPostgres.isExecutable(explicit) else {
                throw PGWorkerError("\(executableEnvironmentVariable)=\(explicit) is not an executable file")
            }
            return explicit
        }
        var candidates: [String] = []
        var selves = [TemporaryPostgres.realPath("/proc/self/exe")]
        if let main = Bundle.main.executablePath { selves.append(main) }
        if let first = CommandLine.arguments.first { selves.append(TemporaryPostgres.realPath(first)) }
        for exe in selves where exe.hasPrefix("/") {
            var dir = (exe as NSString).deletingLastPathComponent
            // A macOS .xctest bundle keeps its binary in Contents/MacOS.
            for _ in 0..<4 {
                candidates.append(dir + "/" + name)
                dir = (dir as NSString).deletingLastPathComponent
            }
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        candidates += [packageRoot + "/.build/debug/" + name, packageRoot + "/.build/release/" + name]
        for candidate in candidates where TemporaryPostgres.isExecutable(candidate) {
            return candidate
        }
        throw PGWorkerError(
            "\(name) not found (looked in \(Set(candidates).sorted().joined(separator: ", "))); "
                + "build it with `swift build --build-tests` or set \(executableEnvironmentVariable)")
    }

    private static func pipePair() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw PGWorkerError("pipe() failed: errno \(errno)") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    // MARK: Reading

    /// Every event printed so far, in order.
    public var events: [PGWorkerEvent] { inner.state.withLock { $0.events } }

    /// What the process wrote to standard error so far (the last 64 KB).
    public var standardError: String { inner.state.withLock { String(decoding: $0.stderr, as: UTF8.self) } }

    /// How it ended; nil while it runs.
    public var termination: Termination? { inner.state.withLock { $0.termination } }

    /// Waits for the first event (from the start of the output, including events already read) that
    /// matches; throws ``PGWorkerError`` when `timeout` passes or the process ends and its output is
    /// exhausted without one (the message holds the events and the stderr tail).
    ///
    /// ```swift
    /// let e = try await worker.waitForEvent(timeout: .seconds(5)) { $0.name == "processed" && $0["item"] == "9" }
    /// ```
    @discardableResult
    public func waitForEvent(
        timeout: Duration, where predicate: (PGWorkerEvent) -> Bool
    ) async throws -> PGWorkerEvent {
        let deadline = ContinuousClock.now + timeout
        var seen = 0
        while true {
            let (events, outputClosed) = inner.state.withLock { ($0.events, $0.stdoutClosed) }
            for e in events[seen...] where predicate(e) { return e }
            seen = events.count
            if outputClosed {
                throw PGWorkerError("\(label) ended (\(termination?.description ?? "output closed")) without the event awaited; \(summary())")
            }
            if ContinuousClock.now >= deadline {
                throw PGWorkerError("\(label): no event awaited within \(timeout); \(summary())")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Waits for the first event named `name`.
    ///
    /// ```swift
    /// try await worker.waitForEvent(named: "ready", timeout: .seconds(10))
    /// ```
    @discardableResult
    public func waitForEvent(named name: String, timeout: Duration) async throws -> PGWorkerEvent {
        try await waitForEvent(timeout: timeout) { $0.name == name }
    }

    /// Events seen and the stderr tail, for failure messages.
    public func summary() -> String {
        let (events, stderr) = inner.state.withLock { ($0.events, $0.stderr) }
        let tail = String(decoding: stderr.suffix(2000), as: UTF8.self)
        return "events: [\(events.suffix(20).map(\.line).joined(separator: " | "))]; stderr: \(tail)"
    }

    // MARK: Signals and exit

    /// Sends `signal` unless the process has already been reaped; returns whether it was sent.
    ///
    /// ```swift
    /// worker.signal(SIGTERM)
    /// ```
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        inner.signal(signal)
    }

    /// SIGKILL: the process dies at once, mid-whatever (its sockets are closed by the kernel).
    ///
    /// ```swift
    /// worker.kill()
    /// ```
    public func kill() {
        inner.signal(SIGKILL)
    }

    /// Closes the worker's stdin, which `tusk-test-worker` takes as "finish and exit".
    ///
    /// ```swift
    /// worker.closeInput()
    /// ```
    public func closeInput() {
        inner.closeInput()
    }

    /// Waits until the process has ended and been reaped; throws ``PGWorkerError`` after `timeout`
    /// (the process keeps running; ``kill()`` it or let its release kill it).
    ///
    /// ```swift
    /// let end = try await worker.waitForExit(timeout: .seconds(5))
    /// #expect(end == .exited(0))
    /// ```
    @discardableResult
    public func waitForExit(timeout: Duration) async throws -> Termination {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let t = termination { return t }
            if ContinuousClock.now >= deadline {
                throw PGWorkerError("\(label) still running after \(timeout); \(summary())")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Kills (SIGKILL) every process of `workers` still running and waits (up to `timeout`) until all
    /// are reaped; returns the ones that did not end in time (none in practice: SIGKILL cannot be caught).
    ///
    /// ```swift
    /// defer { Task { await PGWorkerProcess.killAll(workers) } }
    /// ```
    @discardableResult
    public static func killAll(_ workers: [PGWorkerProcess], timeout: Duration = .seconds(5)) async -> [PGWorkerProcess] {
        for w in workers { w.kill() }
        var left: [PGWorkerProcess] = []
        for w in workers where (try? await w.waitForExit(timeout: timeout)) == nil {
            left.append(w)
        }
        return left
    }

    /// Runs `body` with `count` started workers and kills and reaps every one of them afterwards,
    /// whether `body` returns or throws.
    ///
    /// ```swift
    /// try await PGWorkerProcess.withWorkers(count: 3, "ledger-writer", arguments: { ["--worker", "\($0)"] }) { ws in
    ///     for w in ws { try await w.waitForEvent(named: "done", timeout: .seconds(20)) }
    /// }
    /// ```
    public static func withWorkers<T>(
        count: Int, _ scenario: String, environment: [String: String] = [:], arguments: (Int) -> [String],
        _ body: ([PGWorkerProcess]) async throws -> T
    ) async throws -> T {
        let workers = try start(count: count, scenario, environment: environment, arguments: arguments)
        do {
            let result = try await body(workers)
            await killAll(workers)
            return result
        } catch {
            await killAll(workers)
            throw error
        }
    }
}

/// A worker process did not do what a test waited for (or could not start).
public struct PGWorkerError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "PGWorkerProcess: " + message }
}
