// What a scenario is, its arguments, and how it reports.

import Foundation
import PGTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// One thing a worker process can do. `name` is the first command-line argument that selects it.
protocol WorkerScenario {
    static var name: String { get }
    static func run(_ arguments: WorkerArguments) async throws
}

/// `--key value` pairs after the scenario name (a flag without a value reads as "true").
struct WorkerArguments: Sendable {
    let scenario: String?
    let values: [String: String]

    init(_ argv: ArraySlice<String>) {
        scenario = argv.first
        var values: [String: String] = [:]
        var i = argv.index(after: argv.startIndex)
        while i < argv.endIndex {
            let arg = argv[i]
            if arg.hasPrefix("--") {
                let key = String(arg.dropFirst(2))
                let next = argv.index(after: i)
                if next < argv.endIndex, !argv[next].hasPrefix("--") {
                    values[key] = argv[next]
                    i = argv.index(after: next)
                    continue
                }
                values[key] = "true"
            }
            i = argv.index(after: i)
        }
        self.values = values
    }

    func string(_ key: String) throws -> String {
        guard let v = values[key] else { throw WorkerFailure("missing --\(key)") }
        return v
    }

    func string(_ key: String, default value: String) -> String { values[key] ?? value }

    func int(_ key: String) throws -> Int {
        guard let v = Int(try string(key)) else { throw WorkerFailure("--\(key) is not an integer") }
        return v
    }

    func int(_ key: String, default value: Int) throws -> Int {
        values[key] == nil ? value : try int(key)
    }
}

struct WorkerFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum WorkerOutput {
    /// Prints one event line with a single write(2).
    static func emit(_ name: String, _ fields: [(key: String, value: String)] = []) {
        let bytes = Array((PGWorkerEvent(name, fields).line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }

    /// When started by PGWorkerProcess (`TUSK_WORKER_PARENT_PID` set): a thread that reads stdin and
    /// exits the process at EOF. The test process holds the other end, so this fires when the test
    /// closes it or dies (even by SIGKILL). Run by hand (variable unset), stdin is left alone.
    static func exitWhenInputCloses() {
        guard let parent = ProcessInfo.processInfo.environment["TUSK_WORKER_PARENT_PID"].flatMap({ Int32($0) }) else { return }
        if getppid() != parent {
            emit("exit", [("reason", "parent-gone")])
            _exit(0)
        }
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 256)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
            }
            emit("exit", [("reason", "stdin-closed")])
            _exit(0)
        }
    }
}
