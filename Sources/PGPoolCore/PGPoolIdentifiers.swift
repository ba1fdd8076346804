/// Identifies one connection of a pool. The state machine makes these and hands them out in
/// ``PGPoolStateMachine/Action/createConnection(_:)``; the runner keys its connections by them.
///
/// ```swift
/// case .createConnection(let id): connections[id] = try await PGConnection.connect(...)
/// ```
public struct PGPoolConnectionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The number behind the id, unique within one state machine.
    public let rawValue: Int

    /// Wraps a raw value (tests and runners rarely need this: ids come from the machine).
    ///
    /// ```swift
    /// let first = PGPoolConnectionID(0)
    /// ```
    public init(_ rawValue: Int) { self.rawValue = rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "connection#\(rawValue)" }
}

/// Identifies one lease request. The runner makes these (unique per pool) so it can map each one
/// to the task waiting for it; the same id names the lease once the request is served.
///
/// ```swift
/// let id = PGPoolRequestID(nextRequest); nextRequest += 1
/// run(machine.leaseRequested(id))
/// ```
public struct PGPoolRequestID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The number behind the id.
    public let rawValue: UInt64

    /// Wraps a raw value chosen by the runner.
    ///
    /// ```swift
    /// let id = PGPoolRequestID(7)
    /// ```
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "request#\(rawValue)" }
}

/// A timer the state machine asked the runner to schedule. When its deadline passes, the runner
/// sends ``PGPoolStateMachine/timerFired(_:)`` with the same id; a timer that was cancelled or
/// rescheduled meanwhile is recognised and ignored, so a late fire is harmless.
///
/// ```swift
/// case .scheduleTimer(let timer, let deadline):
///     timers[timer] = Task { try await clock.sleep(until: deadline); await pool.fire(timer) }
/// ```
public enum PGPoolTimerID: Hashable, Sendable {
    /// A waiting request's acquire timeout.
    case acquireTimeout(PGPoolRequestID)
    /// An idle connection's idle timeout.
    case idleTimeout(PGPoolConnectionID)
    /// A connection's maximum lifetime (jitter already applied to the deadline).
    case maximumLifetime(PGPoolConnectionID)
    /// A lease held longer than the leak-warning threshold.
    case leakWarning(PGPoolRequestID)
    /// The end of the back-off after failed connection attempts.
    case connectionBackoff
    /// The end of a graceful shutdown's grace period.
    case shutdownDeadline
}
