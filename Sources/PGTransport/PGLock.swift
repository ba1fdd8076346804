import CTuskShims

/// A value guarded by a plain pthread mutex.
///
/// `Synchronization.Mutex` on Linux is a priority-inheriting futex lock that calls `gettid` on every
/// lock: one syscall per lock even when uncontended. This costs none, which matters on the per-query path.
///
/// ```swift
/// let counter = PGLock(0)
/// counter.withLock { $0 += 1 }
/// ```
public final class PGLock<Value>: @unchecked Sendable {
    private let lock: OpaquePointer
    /// Guarded by `lock`, so the run-time exclusivity check (a thread-local lookup per access) is off.
    @usableFromInline @exclusivity(unchecked) var value: Value

    /// Creates the lock around `value`.
    public init(_ value: Value) {
        // malloc of a few bytes fails only when the process is out of memory, where Swift itself traps anyway.
        guard let l = ctusk_lock_create() else { preconditionFailure("out of memory creating a lock") }
        self.lock = l
        self.value = value
    }

    deinit { ctusk_lock_destroy(lock) }

    /// Runs `body` with exclusive access to the value.
    @inlinable @inline(__always)
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        _lock()
        defer { _unlock() }
        return try _withValue(body)
    }

    @usableFromInline func _lock() { ctusk_lock_lock(lock) }
    @usableFromInline func _unlock() { ctusk_lock_unlock(lock) }
    @inlinable @inline(__always) func _withValue<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        try body(&value)
    }
}
