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

    private static func runProcessBlocking(
        executable: String,
        arguments: [String],
        environment: [String: String]?,
        currentDirectory: String?,
        input: Data?,
        timeout: Duration
    ) throws -> ProcessOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let outPipe = Pipe()
        let errPipe = Pipe()
        let inPipe: Pipe? = input == nil ? nil : Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = inPipe ?? FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw TemporaryPostgresError("cannot run \(executable): \(error)")
        }
        let pid = process.processIdentifier
        let errCollected = Collected()
        let outCollected = Collected()
        let group = DispatchGroup()
        let errReader = errPipe.fileHandleForReading
        DispatchQueue.global().async(group: group) {
            let d = errReader.readDataToEndOfFile()
            errCollected.data.withLock { $0 = d }
        }
        if let inPipe, let input {
            let writer = inPipe.fileHandleForWriting
            DispatchQueue.global().async(group: group) {
                // EPIPE (the process exited early) must not kill us: SIGPIPE is ignored below.
                try? writer.write(contentsOf: input)
                try? writer.close()
            }
        }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        timer.schedule(deadline: .now() + seconds)
        timer.setEventHandler {
            outCollected.timedOut.withLock { $0 = true }
            kill(pid, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) {
                kill(pid, SIGKILL)
            }
        }
        timer.resume()
        let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer.cancel()
        group.wait()
        return ProcessOutput(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errCollected.data.withLock { $0 }, as: UTF8.self),
            timedOut: outCollected.timedOut.withLock { $0 }
        )
    }

    /// Starts a process and does not wait for it (the watchdog). stdio go to /dev/null.
    static func spawnDetached(executable: String, arguments: [String], environment: [String: String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
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
