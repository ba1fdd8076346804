// Subprocess and OS helpers for TemporaryPostgres.

import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension TemporaryPostgres {

    struct ProcessOutput: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
        var timedOut: Bool
    }

    /// How to run the server tools as the `postgres` OS user when we are root.
    struct RunAs: Sendable {
        var uid: UInt32
        var gid: UInt32
        var userName: String
        /// e.g. ["/usr/sbin/runuser", "-u", "postgres", "--"]
        var prefix: [String]
    }

    /// Runs a process to completion on a dedicated thread (never blocks the cooperative pool),
    /// feeding `input` to stdin and collecting stdout and stderr. On timeout the process gets
    /// SIGTERM, then SIGKILL two seconds later, and `timedOut` is set.
    static func runProcess(
        executable: String,
        arguments: [String],
        environment: [String: String]? = nil,
        currentDirectory: String? = nil,
        input: Data? = nil,
        timeout: Duration = .seconds(60),
        runAs: RunAs? = nil
    ) async throws -> ProcessOutput {
        var executable = executable
        var arguments = arguments
        if let runAs {
            arguments = Array(runAs.prefix.dropFirst()) + [executable] + arguments
            executable = runAs.prefix[0]
        }
        let (exe, args) = (executable, arguments)
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ProcessOutput, any Error>) in
            let thread = Thread {
                do {
                    continuation.resume(returning: try runProcessBlocking(
                        executable: exe, arguments: args, environment: environment,
                        currentDirectory: currentDirectory, input: input, timeout: timeout))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.name = "TemporaryPostgres.process"
            thread.start()
        }
    }

    private final class Collected: Sendable {
        let data = Mutex(Data())
        let timedOut = Mutex(false)
    }

    // Foundation.Process is not used: on Linux it detects a child's exit through a socket it
    // leaks into the child, so a child that leaves a daemon behind (pg_ctl start) or forks
    // (setsid) is never seen to exit and waitUntilExit() hangs (swift-corelibs-foundation
    // #4795). We posix_spawn ourselves, close every other descriptor in the child and waitpid.

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    /// glibc >= 2.34 / 2.29 have these, but the Swift Glibc module does not export them.
    private static let spawnExtensions: (closeFrom: AddCloseFrom?, chdir: AddChdir?) = {
        #if os(Linux)
        let handle = dlopen(nil, RTLD_NOW)
        let closeFrom = dlsym(handle, "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: AddCloseFrom.self) }
        let chdir = dlsym(handle, "posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: AddChdir.self) }
        return (closeFrom, chdir)
        #else
        return (nil, nil)
        #endif
    }()

    /// Spawns `argv[0]` with stdin/stdout/stderr on the given descriptors (nil: /dev/null),
    /// every other descriptor closed, default signal handling and mask, in `directory`.
    static func spawn(
        _ argv: [String], environment: [String: String], directory: String?,
        stdin: Int32?, stdout: Int32?, stderr: Int32?
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        for (fd, target) in [(stdin, Int32(0)), (stdout, 1), (stderr, 2)] {
            if let fd {
                posix_spawn_file_actions_adddup2(&actions, fd, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            }
        }
        var argv = argv
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        #if os(Linux)
        if let closeFrom = spawnExtensions.closeFrom {
            _ = closeFrom(&actions, 3)
        }
        if let directory {
            if let chdir = spawnExtensions.chdir {
                _ = chdir(&actions, directory)
            } else {
                argv = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory] + argv
            }
        }
        #else
        flags |= Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
        if let directory {
            posix_spawn_file_actions_addchdir_np(&actions, directory)
        }
        #endif
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2] {
            sigaddset(&defaults, sig)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid = pid_t()
        let rc = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        guard rc == 0 else {
            throw TemporaryPostgresError("cannot run \(argv[0]): \(String(cString: strerror(rc)))")
        }
        return pid
    }

    /// A pipe whose both ends are close-on-exec (the child gets dup2'ed copies).
    private static func makePipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw TemporaryPostgresError("pipe() failed: errno \(errno)") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    private static func readAll(_ fd: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                data.append(contentsOf: buffer[0..<n])
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        return data
    }

    private static func writeAll(_ fd: Int32, _ data: Data) {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    return  // EPIPE: the child stopped reading
                }
            }
        }
    }

    /// waitpid for this child, retrying on EINTR; returns the exit status (128+signal if killed).
    static func waitForExit(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        let low = status & 0x7f
        if low == 0 { return (status >> 8) & 0xff }  // exited
        return 128 + low  // killed by a signal
    }

    private static func runProcessBlocking(
        executable: String,
        arguments: [String],
        environment: [String: String]?,
        currentDirectory: String?,
        input: Data?,
        timeout: Duration
    ) throws -> ProcessOutput {
        let out = try makePipe()
        let err = try makePipe()
        let inPipe = input == nil ? nil : try makePipe()
        let pid: pid_t
        do {
            pid = try spawn(
                [executable] + arguments, environment: environment ?? ProcessInfo.processInfo.environment,
                directory: currentDirectory, stdin: inPipe?.read, stdout: out.write, stderr: err.write)
        } catch {
            for fd in [out.read, out.write, err.read, err.write, inPipe?.read ?? -1, inPipe?.write ?? -1] where fd >= 0 {
                close(fd)
            }
            throw error
        }
        close(out.write)
        close(err.write)
        if let inPipe { close(inPipe.read) }

        let collected = Collected()
        let group = DispatchGroup()
        let errFD = err.read
        group.enter()
        Thread.detachNewThread {
            collected.data.withLock { $0 = readAll(errFD) }
            close(errFD)
            group.leave()
        }
        if let inPipe, let input {
            group.enter()
            let inFD = inPipe.write
            Thread.detachNewThread {
                writeAll(inFD, input)
                close(inFD)
                group.leave()
            }
        }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        timer.schedule(deadline: .now() + seconds)
        let exited = Mutex(false)
        timer.setEventHandler {
            // The pid stays ours (a zombie at worst) until waitpid below, so this is safe.
            guard !exited.withLock({ $0 }) else { return }
            collected.timedOut.withLock { $0 = true }
            kill(pid, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) {
                if !exited.withLock({ $0 }) { kill(pid, SIGKILL) }
            }
        }
        timer.resume()
        let outData = readAll(out.read)
        close(out.read)
        // Exit status first: a daemonized grandchild may keep stderr open; don't wait for it then.
        let status = waitForExit(pid)
        exited.withLock { $0 = true }
        timer.cancel()
        _ = group.wait(timeout: .now() + 5)
        return ProcessOutput(
            status: status,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: collected.data.withLock { $0 }, as: UTF8.self),
            timedOut: collected.timedOut.withLock { $0 }
        )
    }

    /// Starts a process and does not wait for it (the watchdog); a thread reaps it when it ends.
    static func spawnDetached(executable: String, arguments: [String], environment: [String: String]) throws {
        let pid = try spawn(
            [executable] + arguments, environment: environment, directory: "/",
            stdin: nil, stdout: nil, stderr: nil)
        Thread.detachNewThread {
            _ = waitForExit(pid)
        }
    }

    /// The environment without libpq's PG* variables (so PGPORT, PGUSER... of the developer
    /// cannot redirect our tools), with a C locale for messages.
    static func cleanEnvironment() -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PG") }
        env["LC_ALL"] = "C"
        env["LANG"] = "C"
        env["PGPASSFILE"] = "/nonexistent/tusk-no-pgpass"
        env["PGSYSCONFDIR"] = "/nonexistent/tusk-no-pgsysconf"
        return env
    }

    static func ignoreSIGPIPE() {
        signal(SIGPIPE, SIG_IGN)
    }

    static func isExecutable(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
            && access(path, X_OK) == 0
    }

    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Whether a process exists and is not a zombie (PID 1 in containers does not always reap).
    static func isAlive(_ pid: Int) -> Bool {
        guard pid > 0, kill(pid_t(pid), 0) == 0 || errno == EPERM else { return false }
        #if os(Linux)
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            let rest = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces)
            if rest.hasPrefix("Z") || rest.hasPrefix("X") { return false }
        }
        #endif
        return true
    }

    /// The first line of postmaster.pid, if the file exists.
    static func readPostmasterPID(dataDirectory: String) -> Int? {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
              let first = text.split(separator: "\n").first else { return nil }
        return Int(first.trimmingCharacters(in: .whitespaces))
    }

    /// Asks a free TCP port of 127.0.0.1 from the kernel (bind port 0, read it, close).
    static func freePort() throws -> Int {
        #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw TemporaryPostgresError("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var addr = sockaddr_in()
        #if !os(Linux)
        addr.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
        #endif
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw TemporaryPostgresError("bind(127.0.0.1:0) failed: errno \(errno)") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getsockname(fd, $0, &len)
            }
        }
        guard named == 0 else { throw TemporaryPostgresError("getsockname failed: errno \(errno)") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// The last `lines` lines of a file ("" if unreadable).
    static func tail(of path: String?, lines: Int = 30) -> String {
        guard let path, let data = FileManager.default.contents(atPath: path) else { return "" }
        let text = String(decoding: data, as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
