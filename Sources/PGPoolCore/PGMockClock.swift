import Synchronization

/// A clock that moves only when told to, for deterministic tests of the pool state machine and
/// of the actor that runs it. `sleep(until:)` returns once `advance` reaches the deadline.
///
/// ```swift
/// let clock = PGMockClock()
/// var machine = PGPoolStateMachine(configuration: config, clock: clock)
/// clock.advance(by: .seconds(5))
/// run(machine.timerFired(.acquireTimeout(id)))
/// ```
public final class PGMockClock: _Concurrency.Clock, Sendable {
    /// A point on the mock clock's time line: the time elapsed since the clock was made.
    public struct Instant: InstantProtocol, CustomStringConvertible {
        /// Time since the clock's origin.
        public var offset: Duration

        /// An instant at an offset from the origin.
        ///
        /// ```swift
        /// let t = PGMockClock.Instant(offset: .seconds(3))
        /// ```
        public init(offset: Duration) { self.offset = offset }

        public func advanced(by duration: Duration) -> Self { Self(offset: offset + duration) }
        public func duration(to other: Self) -> Duration { other.offset - offset }
        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.offset < rhs.offset }
        public var description: String { "t+\(offset)" }
    }

    private struct Sleeper {
        var id: UInt64
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var nextSleeperID: UInt64 = 0
        var sleepers: [Sleeper] = []
    }

    private let state = Mutex(State())

    /// A clock at offset zero.
    ///
    /// ```swift
    /// let clock = PGMockClock()
    /// ```
    public init() {}

    /// The current instant.
    public var now: Instant { state.withLock { $0.now } }

    /// The mock clock has no granularity.
    public var minimumResolution: Duration { .zero }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    ///
    /// ```swift
    /// clock.advance(by: .milliseconds(250))
    /// ```
    public func advance(by duration: Duration) {
        let due = state.withLock { state -> [Sleeper] in
            state.now = state.now.advanced(by: max(.zero, duration))
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Suspends until `advance` reaches the deadline; throws `CancellationError` if cancelled.
    ///
    /// ```swift
    /// try await clock.sleep(until: clock.now.advanced(by: .seconds(1)), tolerance: nil)
    /// ```
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id = state.withLock { state -> UInt64 in
            defer { state.nextSleeperID += 1 }
            return state.nextSleeperID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Result<Void, any Error>? = state.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return nil
                }
                if let resumeNow { continuation.resume(with: resumeNow) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// How many tasks are sleeping on this clock (to wait until a runner has armed its timers).
    ///
    /// ```swift
    /// while clock.sleeperCount < 1 { await Task.yield() }
    /// ```
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }
}
