import Synchronization

/// Races a database operation against a deadline without waiting for the operation to notice it: a
/// stalled network never holds a caller past `limit` (the operation's own task is left to end by itself).
/// Every store runs its statements through it.
///
/// ```swift
/// let n = try await PGStoreDeadline.run(within: .seconds(2), what: "lease", store: "queue") {
///     try await pool.queryOne("SELECT 1", as: Int.self)
/// }
/// ```
public enum PGStoreDeadline {
    public static func run<T: Sendable>(within limit: Duration, what: String, store: String,
                                 _ body: @escaping @Sendable () async throws -> T) async throws(PGStoreError) -> T {
        let once = Once<T>()
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
                    let work = Task {
                        do { once.resume(.success(try await body())) } catch { once.resume(.failure(error)) }
                    }
                    let timer = Task {
                        try? await Task.sleep(for: limit)
                        if once.resume(.failure(PGStoreError(code: .timeout, message: "\(what) did not finish within \(limit)", store: store))) {
                            work.cancel()
                        }
                    }
                    once.set(cont) { timer.cancel() }
                }
            } onCancel: {
                once.resume(.failure(CancellationError()))
            }
        } catch {
            throw PGStoreError.from(error, store: store)
        }
    }

    /// Resumes a continuation exactly once, whichever of work, timer and cancellation comes first.
    final class Once<T: Sendable>: Sendable {
        private struct S {
            var cont: CheckedContinuation<T, any Error>?
            var result: Result<T, any Error>?
            var finish: (@Sendable () -> Void)?
            var done = false
        }
        private let s = Mutex(S())

        func set(_ c: CheckedContinuation<T, any Error>, finish: @escaping @Sendable () -> Void) {
            let ready = s.withLock { st -> Result<T, any Error>? in
                if let r = st.result { return r }
                st.cont = c
                st.finish = finish
                return nil
            }
            if let ready {
                c.resume(with: ready)
                finish()
            }
        }

        @discardableResult
        func resume(_ r: Result<T, any Error>) -> Bool {
            let (cont, finish, first) = s.withLock { st -> (CheckedContinuation<T, any Error>?, (@Sendable () -> Void)?, Bool) in
                guard !st.done else { return (nil, nil, false) }
                st.done = true
                if st.cont == nil { st.result = r }
                defer { st.cont = nil; st.finish = nil }
                return (st.cont, st.finish, true)
            }
            cont?.resume(with: r)
            finish?()
            return first
        }
    }
}
