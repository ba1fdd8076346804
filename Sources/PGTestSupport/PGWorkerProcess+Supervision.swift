// The threads that read a worker's output and reap it.

import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension PGWorkerProcess {
    struct State: Sendable {
        var events: [PGWorkerEvent] = []
        var stderr: [UInt8] = []
        var stdoutClosed = false
        var termination: Termination?
        /// Set (under the lock) once the process has ended; from then on its pid is never signalled,
        /// because the reaper reaps it under the same lock right after.
        var ended = false
        var stdinWrite: Int32
    }

    /// Shared by the handle and its threads, so that releasing the handle can kill the process.
    final class Inner: Sendable {
        static let stderrLimit = 64 << 10
        let pid: pid_t
        let state: Mutex<State>

        init(pid: pid_t, stdinWrite: Int32) {
            self.pid = pid
            self.state = Mutex(State(stdinWrite: stdinWrite))
        }

        func startThreads(stdout: Int32, stderr: Int32) {
            Thread.detachNewThread { [self] in readLines(stdout) }
            Thread.detachNewThread { [self] in readErrors(stderr) }
            Thread.detachNewThread { [self] in reap() }
        }

        @discardableResult
        func signal(_ signal: Int32) -> Bool {
            state.withLock { s in
                guard !s.ended else { return false }
                return Glibc.kill(pid, signal) == 0
            }
        }

        func killIfRunning() {
            signal(SIGKILL)
            closeInput()
        }

        func closeInput() {
            state.withLock { s in
                if s.stdinWrite >= 0 {
                    close(s.stdinWrite)
                    s.stdinWrite = -1
                }
            }
        }

        private func readLines(_ fd: Int32) {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 8192)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending.append(contentsOf: buffer[0..<n])
                var events: [PGWorkerEvent] = []
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    if !line.isEmpty { events.append(PGWorkerEvent(parsing: line)) }
                }
                if !events.isEmpty {
                    state.withLock { $0.events += events }
                }
            }
            close(fd)
            let last = pending.isEmpty ? nil : PGWorkerEvent(parsing: String(decoding: pending, as: UTF8.self))
            state.withLock {
                if let last { $0.events.append(last) }
                $0.stdoutClosed = true
            }
        }

        private func readErrors(_ fd: Int32) {
            var buffer = [UInt8](repeating: 0, count: 8192)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                state.withLock { s in
                    s.stderr.append(contentsOf: buffer[0..<n])
                    if s.stderr.count > Self.stderrLimit { s.stderr.removeFirst(s.stderr.count - Self.stderrLimit) }
                }
            }
            close(fd)
        }

        /// Waits for the exit without reaping (WNOWAIT), then marks it ended and reaps under the lock.
        private func reap() {
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
                if errno != EINTR { break }
            }
            state.withLock { s in
                s.ended = true
                var status: Int32 = 0
                var r: pid_t
                repeat { r = waitpid(pid, &status, 0) } while r < 0 && errno == EINTR
                let low = status & 0x7f
                s.termination = r < 0 ? .exited(-1) : (low == 0 ? .exited((status >> 8) & 0xff) : .signalled(low))
                if s.stdinWrite >= 0 {
                    close(s.stdinWrite)
                    s.stdinWrite = -1
                }
            }
        }
    }
}
