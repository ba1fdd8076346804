import Foundation
import Logging
import PGClient
import PGTestSupport
import Synchronization
import Testing

/// Shared helpers for integration tests: one throwaway server per test run.
enum TestDB {
    static func server() async throws -> TemporaryPostgres {
        try await TemporaryPostgres.shared()
    }

    static func configuration(user: String? = nil, password: String? = nil) async throws -> PGConnectionConfiguration {
        let pg = try await server()
        var config = try PGConnectionConfiguration(url: pg.url(user: user, password: password))
        config.connectTimeout = .seconds(10)
        return config
    }

    static func connect(user: String? = nil, password: String? = nil) async throws -> PGConnection {
        try await PGConnection.connect(try await configuration(user: user, password: password))
    }

    /// Runs `body` with a connection and closes it afterwards.
    static func withConnection<T>(_ body: (PGConnection) async throws -> T) async throws -> T {
        let c = try await connect()
        do {
            let r = try await body(c)
            await c.close()
            return r
        } catch {
            await c.close()
            throw error
        }
    }
}

/// Fails the test if `body` takes longer than `limit` (returns its result otherwise). At the limit it throws at
/// once and cancels `body`, without waiting for it to end: a body that ignores cancellation (a query whose
/// bytes a stalled proxy holds) cannot stretch the bound.
func within<T: Sendable>(_ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let once = WithinOnce<T>()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        once.slot.withLock { $0 = continuation }
        let work = Task {
            do {
                let value = try await body()
                once.take()?.resume(returning: value)
            } catch {
                once.take()?.resume(throwing: error)
            }
        }
        Task {
            try? await Task.sleep(for: limit)
            if let continuation = once.take() {
                work.cancel()
                continuation.resume(throwing: PGError(code: .timeout, message: "\(what) did not finish within \(limit)"))
            }
        }
    }
}

/// The continuation of one `within` call, resumed by whichever comes first.
final class WithinOnce<T: Sendable>: Sendable {
    let slot = Mutex<CheckedContinuation<T, any Error>?>(nil)
    func take() -> CheckedContinuation<T, any Error>? { slot.withLock { $0.take() } }
}

/// A log handler that records every line, to assert on what was logged.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    final class Store: @unchecked Sendable {
        let lock = NSLock()
        var lines: [String] = []
        func append(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    }
    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    init(store: Store) { self.store = store }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        store.append("\(event.level) \(event.message) \(metadata.merging(event.metadata ?? [:]) { $1 })")
    }
}

/// Bounds for "at once" in tests that measure wall-clock time. Plain `swift test` runs the suites in parallel,
/// on a 2-core machine that may be building something else at the same time (load 6 and more): there a prompt
/// cancel was seen taking 6 s. So a test bounds "at once" by ``bound`` and makes the failure it guards against
/// take far longer (a server sleep of ``sleepSeconds`` that a missed cancel or a missed close would wait out).
enum Promptly {
    /// How long something that should happen at once may take before the test calls it a failure.
    static let bound: Duration = .seconds(15)
    /// A server-side sleep (seconds) that only a failure waits out: four times ``bound``.
    static let sleepSeconds = 60.0
}
