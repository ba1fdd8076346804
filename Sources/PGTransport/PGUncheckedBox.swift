/// A value stored outside its owner and reached through a pointer.
///
/// Stored properties of classes (and actors) are checked for exclusive access at run time: a thread-local
/// lookup on every mutation. State that one thread or one lock already owns exclusively — an event loop's
/// queues, a lock's value, a connection's buffers — can skip that check by living here. The owner frees it.
///
/// ```swift
/// let jobs = PGUncheckedBox<[Int]>([])
/// jobs.value.append(1)
/// jobs.free()
/// ```
@usableFromInline
package struct PGUncheckedBox<Value>: @unchecked Sendable {
    @usableFromInline package let pointer: UnsafeMutablePointer<Value>

    @inlinable package init(_ value: Value) {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: value)
    }

    @inlinable package var value: Value {
        unsafeAddress { UnsafePointer(pointer) }
        nonmutating unsafeMutableAddress { pointer }
    }

    /// Destroys the value and frees its storage (once, from the owner's deinit).
    @inlinable package func free() {
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }
}
