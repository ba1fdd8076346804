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
